package console

import (
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
)

// TestOverviewShowsReshardingProgress renders a group in the middle of an online resharding: the page
// shows how far the slot migration has come, as DescribeReplicationGroups reports it.
func TestOverviewShowsReshardingProgress(t *testing.T) {
	g := api.ReplicationGroup{ReplicationGroupId: ptr("shop"), Status: ptr("modifying"),
		PendingModifiedValues: &api.ReplicationGroupPendingModifiedValues{
			Resharding: &api.ReshardingStatus{SlotMigration: &api.SlotMigration{ProgressPercentage: ptr(42.4)}}}}
	page := overviewPage{Region: "us-east-1", Groups: []groupView{{ReplicationGroup: g, NodeGroups: []nodeGroupView{{ID: "0001"}, {ID: "0002"}}}}}
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, "overview.html", page); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), `<small class="resharding">resharding 42%</small>`); n != 1 {
		t.Errorf("the resharding progress is shown %d times, want once:\n%s", n, b.String())
	}
}

// TestOverviewShowsSnapshotProgress renders a snapshot of three node groups with one copied: the page
// shows how many are, from the times DescribeSnapshots gives the copied ones; an available one shows none.
func TestOverviewShowsSnapshotProgress(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	creating := api.Snapshot{SnapshotName: ptr("nightly"), SnapshotStatus: ptr("creating"),
		NodeSnapshots: []api.NodeSnapshot{{NodeGroupId: ptr("0001"), SnapshotCreateTime: &at}, {NodeGroupId: ptr("0002")}, {NodeGroupId: ptr("0003")}}}
	done := api.Snapshot{SnapshotName: ptr("weekly"), SnapshotStatus: ptr("available"),
		NodeSnapshots: []api.NodeSnapshot{{NodeGroupId: ptr("0001"), SnapshotCreateTime: &at}}}
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, "overview.html", overviewPage{Region: "us-east-1", Snapshots: []api.Snapshot{creating, done}}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), `<small class="progress">`); n != 1 || !strings.Contains(b.String(), `<small class="progress">1 of 3 node groups copied</small>`) {
		t.Errorf("snapshot progress shown %d times, want once as 1 of 3:\n%s", n, b.String())
	}
}
