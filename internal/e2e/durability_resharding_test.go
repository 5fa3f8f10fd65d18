package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// TestDurableResharding reshards a sync group online while a client writes: a node group added gets a
// transaction log of its own (three more log replicas), takes its share of the slots with their keys, and
// fails over through its log without losing a key; a node group removed gives its slots away, and its log
// replicas and checkpoints go with it. No acknowledged write is lost.
func TestDurableResharding(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token = "durable-token-0123456789"
	_, newClient := createDurableGroup(t, srv, "grows", token)
	cc := newClient()
	writeClusterKeys(t, cc, "k", 500)
	w := startClusterWriter(cc, "w")
	progresses(t, w, 100, "the start", newClient)

	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("grows"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("adding a node group: %v", err)
	}
	g := waitGroupAvailable(t, c, "grows")
	if len(g.NodeGroups) != 3 {
		t.Fatalf("node groups after the scale-out: %d", len(g.NodeGroups))
	}
	if logs := logReplicas(t, srv.dataDir); len(logs) != 9 {
		t.Errorf("log replicas after the scale-out: %v, want three per node group", logs)
	}
	added := ""
	for _, ng := range g.NodeGroups {
		if aws.ToString(ng.NodeGroupId) != "0003" {
			continue
		}
		var first int
		if _, err := fmt.Sscanf(aws.ToString(ng.Slots), "%d-", &first); err != nil {
			t.Fatalf("the added node group serves slots %q", aws.ToString(ng.Slots))
		}
		added = primaryOfSlot(t, c, cc, first)
		if !strings.HasPrefix(added, "grows-0003-") {
			t.Fatalf("slot %d of node group 0003 is served by %s", first, added)
		}
	}
	if added == "" {
		t.Fatal("no node group 0003 after the scale-out")
	}
	progresses(t, w, 100, "the scale-out", newClient)
	killPID(t, engineOf(t, srv, added))
	progresses(t, w, 100, "killing the added node group's primary", newClient)
	waitGroupAvailable(t, c, "grows")

	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("grows"), NodeGroupCount: aws.Int32(2), NodeGroupsToRemove: []string{"0001"}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("removing a node group: %v", err)
	}
	waitGroupAvailable(t, c, "grows")
	eventually(t, time.Minute, "node group 0001's log and checkpoints gone", func() error {
		for id := range logReplicas(t, srv.dataDir) {
			if strings.Contains(id, "-0001-log-") {
				return fmt.Errorf("log replica %s still runs", id)
			}
		}
		dirs, _ := filepath.Glob(filepath.Join(srv.dataDir, "durable", "*", "grows-*", "0001"))
		if len(dirs) > 0 {
			return fmt.Errorf("checkpoints left: %v", dirs)
		}
		if _, err := os.Stat(filepath.Join(srv.dataDir, "durable")); err != nil {
			return err
		}
		return nil
	})
	if logs := logReplicas(t, srv.dataDir); len(logs) != 6 {
		t.Errorf("log replicas after the scale-in: %v, want six", logs)
	}
	progresses(t, w, 100, "the scale-in", newClient)
	verify := newClient()
	w.stop(t, verify)
	if err := checkClusterKeys(verify, "k", 500); err != nil {
		t.Errorf("after resharding: %v", err)
	}
}
