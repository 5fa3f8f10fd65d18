package console

import (
	"strings"
	"testing"

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
