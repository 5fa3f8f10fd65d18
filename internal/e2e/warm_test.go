package e2e

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// warmPIDs lists the pids of the server's idle warm engines.
func warmPIDs(srv *ecacheProcess) map[int]bool {
	out := map[int]bool{}
	for _, pid := range recordedPIDs(filepath.Join(srv.dataDir, "warm", "*", "warm.json")) {
		out[pid] = true
	}
	return out
}

// TestWarmEngines creates a cache cluster and a cluster mode enabled group once ecache keeps its warm
// engines: their nodes are those engines, each at its own address on the port asked for, the cluster names
// those addresses to clients, a killed primary fails over and comes back, and the idle engines go with ecache.
func TestWarmEngines(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	var warm map[int]bool
	eventually(t, time.Minute, "12 warm engines (6 of each kind)", func() error {
		if warm = warmPIDs(srv); len(warm) < 12 {
			return fmt.Errorf("%d", len(warm))
		}
		return nil
	})

	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("one"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"), Port: aws.Int32(6390)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "one")
	if pid := engineOf(t, srv, "one"); !warm[pid] {
		t.Errorf("the node runs pid %d, not a warm engine", pid)
	}
	ep := describeCluster(t, c, "one").CacheNodes[0].Endpoint
	if !strings.HasPrefix(aws.ToString(ep.Address), "127.1.") || aws.ToInt32(ep.Port) != 6390 {
		t.Errorf("node endpoint %s, want its own address on port 6390", addr(ep))
	}
	one := redis.NewClient(&redis.Options{Addr: addr(ep)})
	defer one.Close()
	if err := one.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("sharded"), ReplicationGroupDescription: aws.String("sharded"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1),
		ClusterMode: types.ClusterModeEnabled,
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "sharded")
	nodes := enginePIDs(srv.dataDir)
	for _, m := range g.MemberClusters {
		if pid := nodes[nodeDir(t, nodes, m)]; !warm[pid] {
			t.Errorf("member %s runs pid %d, not a warm engine", m, pid)
		}
	}
	described := map[string]bool{}
	for _, m := range g.MemberClusters {
		ep := describeCluster(t, c, m).CacheNodes[0].Endpoint
		if !strings.HasPrefix(aws.ToString(ep.Address), "127.1.") || aws.ToInt32(ep.Port) != 6379 {
			t.Errorf("member %s at %s, want its own address on port 6379", m, addr(ep))
		}
		described[addr(ep)] = true
	}
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	checkSlotAddresses(t, rdb, described)
	writeClusterKeys(t, rdb, "k", 500)

	// Every write is on the replica before its primary is killed (replication is asynchronous).
	victim := primaryOfSlot(t, c, rdb, 0)
	direct := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, victim).CacheNodes[0].Endpoint)})
	defer direct.Close()
	// A write then WAIT on one connection: the replica has the primary's stream up to it, every earlier
	// write included.
	if err := direct.Set(ctx, "{k2}last", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := direct.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 on %s: %d, %v", victim, n, err)
	}
	killPID(t, engineOf(t, srv, victim))
	eventually(t, 30*time.Second, "slot 0 served by another node", func() error {
		if owner, err := slotOwner(t, c, rdb, 0); err != nil || owner == victim {
			return fmt.Errorf("slot 0 at %s (%v)", owner, err)
		}
		return nil
	})
	eventually(t, time.Minute, "the killed node back as a replica", func() error {
		info, err := rdb.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:4") {
			return fmt.Errorf("%v %.80q", err, info)
		}
		return checkClusterKeys(rdb, "k", 500)
	})
	waitGroupAvailable(t, c, "sharded")
	// A node that came back is named by its cluster bus address (where it takes clients too) until it has
	// pinged each peer.
	eventually(t, 10*time.Second, "the cluster naming the members' endpoints", func() error {
		return slotAddresses(rdb, described)
	})

	// The idle engines go with ecache; the nodes' engines stay.
	running := enginePIDs(srv.dataDir)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if left := warmPIDs(srv); len(left) > 0 {
		t.Errorf("idle warm engines outlived ecache: %v", left)
	}
	if after := enginePIDs(srv.dataDir); len(after) != len(running) {
		t.Errorf("%d node engines running after ecache stopped, want %d", len(after), len(running))
	}
}

// nodeDir is the node directory of a member cluster among a server's nodes.
func nodeDir(t *testing.T, nodes map[string]int, member string) string {
	t.Helper()
	for dir := range nodes {
		if strings.HasPrefix(dir, member+"-0001-") {
			return dir
		}
	}
	t.Fatalf("no node of %s", member)
	return ""
}

// checkSlotAddresses checks that the cluster names to clients the addresses DescribeReplicationGroups gives
// the members.
func checkSlotAddresses(t *testing.T, rdb *redis.ClusterClient, described map[string]bool) {
	t.Helper()
	if err := slotAddresses(rdb, described); err != nil {
		t.Error(err)
	}
}

// slotAddresses tells whether CLUSTER NODES names all the members' endpoints and nothing else, and CLUSTER
// SLOTS none other (it leaves out a replica that has reported no replication offset yet).
func slotAddresses(rdb *redis.ClusterClient, described map[string]bool) error {
	ctx := context.Background()
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return err
	}
	for _, s := range slots {
		for _, n := range s.Nodes {
			if !described[n.Addr] {
				return fmt.Errorf("CLUSTER SLOTS names %s, which is no member's endpoint (%v)", n.Addr, described)
			}
		}
	}
	nodes, err := rdb.ClusterNodes(ctx).Result()
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for line := range strings.Lines(nodes) {
		if f := strings.Fields(line); len(f) > 1 {
			a, _, _ := strings.Cut(f[1], "@")
			named[a] = true
		}
	}
	if !maps.Equal(named, described) {
		return fmt.Errorf("CLUSTER NODES names %v, want the members' endpoints %v", named, described)
	}
	return nil
}
