package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// writeDataset writes n keys of every type, a third of them with a TTL, and returns a checker that
// compares another node's data with it.
func writeDataset(t *testing.T, rdb *redis.Client, n int) func(*redis.Client) error {
	t.Helper()
	ctx := ctxT(t)
	p := rdb.Pipeline()
	for i := range n {
		ttl := time.Duration(0)
		if i%3 == 0 {
			ttl = time.Hour
		}
		switch i % 5 {
		case 0:
			p.Set(ctx, fmt.Sprintf("str:%d", i), i, ttl)
		case 1:
			p.HSet(ctx, fmt.Sprintf("hash:%d", i), "a", i, "b", -i)
		case 2:
			p.RPush(ctx, fmt.Sprintf("list:%d", i), "x", i, "z")
		case 3:
			p.SAdd(ctx, fmt.Sprintf("set:%d", i), "m", i)
		case 4:
			p.ZAdd(ctx, fmt.Sprintf("zset:%d", i), redis.Z{Score: float64(i), Member: "s"})
		}
		if ttl > 0 && i%5 != 0 {
			key := []string{"", "hash", "list", "set", "zset"}[i%5]
			p.Expire(ctx, fmt.Sprintf("%s:%d", key, i), ttl)
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("writing the dataset: %v", err)
	}
	return func(got *redis.Client) error {
		ctx := context.Background()
		if size := got.DBSize(ctx).Val(); size != int64(n) {
			return fmt.Errorf("DBSIZE %d, want %d", size, n)
		}
		for i := range n {
			var ok bool
			var key string
			switch i % 5 {
			case 0:
				key = fmt.Sprintf("str:%d", i)
				ok = got.Get(ctx, key).Val() == fmt.Sprint(i)
			case 1:
				key = fmt.Sprintf("hash:%d", i)
				h := got.HGetAll(ctx, key).Val()
				ok = h["a"] == fmt.Sprint(i) && h["b"] == fmt.Sprint(-i)
			case 2:
				key = fmt.Sprintf("list:%d", i)
				ok = strings.Join(got.LRange(ctx, key, 0, -1).Val(), ",") == fmt.Sprintf("x,%d,z", i)
			case 3:
				key = fmt.Sprintf("set:%d", i)
				ok = got.SCard(ctx, key).Val() == 2 && got.SIsMember(ctx, key, fmt.Sprint(i)).Val()
			case 4:
				key = fmt.Sprintf("zset:%d", i)
				ok = got.ZScore(ctx, key, "s").Val() == float64(i)
			}
			if !ok {
				return fmt.Errorf("%s differs", key)
			}
			ttl := got.TTL(ctx, key).Val()
			if i%3 == 0 && (ttl <= 0 || ttl > time.Hour) || i%3 != 0 && ttl != -1 {
				return fmt.Errorf("%s has TTL %v", key, ttl)
			}
		}
		return nil
	}
}

// valkeyCluster creates a one-node Valkey cache cluster (restored from snapshot unless it is empty), waits
// until it is available and returns a client of its node.
func valkeyCluster(t *testing.T, c *elasticache.Client, id, snapshot string) *redis.Client {
	t.Helper()
	in := &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small")}
	if snapshot != "" {
		in.SnapshotName = aws.String(snapshot)
	}
	if _, err := c.CreateCacheCluster(ctxT(t), in); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	waitAvailable(t, c, id)
	rdb := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, id).CacheNodes[0].Endpoint)})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// groupWithData creates a two-node Valkey group with automatic failover, writes n keys of every type through
// its primary endpoint and waits until the replica <id>-002 holds them all. It returns the group and the
// dataset's checker.
func groupWithData(t *testing.T, c *elasticache.Client, id string, n int) (types.ReplicationGroup, func(*redis.Client) error) {
	t.Helper()
	if _, err := c.CreateReplicationGroup(ctxT(t), &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	g := waitGroupAvailable(t, c, id)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint)})
	defer primary.Close()
	check := writeDataset(t, primary, n)
	replica := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, id+"-002").CacheNodes[0].Endpoint)})
	defer replica.Close()
	eventually(t, 10*time.Second, "the replica has the data", func() error { return check(replica) })
	return g, check
}

func waitSnapshot(t *testing.T, c *elasticache.Client, name string) types.Snapshot {
	t.Helper()
	var snap types.Snapshot
	eventually(t, 60*time.Second, "snapshot "+name+" available", func() error {
		out, err := c.DescribeSnapshots(context.Background(), &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name)})
		if err != nil {
			return err
		}
		snap = out.Snapshots[0]
		if s := aws.ToString(snap.SnapshotStatus); s != "available" {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
	return snap
}

// TestSnapshotAndRestore snapshots a cache cluster and a replication group with real data, restores each
// into a new cluster and compares every key, value and TTL; then deletes the snapshots and their files.
func TestSnapshotAndRestore(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	check := writeDataset(t, valkeyCluster(t, c, "src", ""), 5000)

	out, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("Snap1")})
	if err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if s := out.Snapshot; aws.ToString(s.SnapshotName) != "snap1" || aws.ToString(s.SnapshotStatus) != "creating" || aws.ToString(s.SnapshotSource) != "manual" || len(s.NodeSnapshots) != 1 {
		t.Errorf("CreateSnapshot response: %+v", s)
	}
	snap := waitSnapshot(t, c, "snap1")
	if size := aws.ToString(snap.NodeSnapshots[0].CacheSize); !strings.HasSuffix(size, " MB") || aws.ToString(snap.CacheClusterId) != "src" || aws.ToString(snap.Engine) != "valkey" {
		t.Errorf("available snapshot: CacheSize %q, CacheClusterId %s, Engine %s", size, aws.ToString(snap.CacheClusterId), aws.ToString(snap.Engine))
	}
	if st := aws.ToString(describeCluster(t, c, "src").CacheClusterStatus); st != "available" {
		t.Errorf("source cluster after the snapshot: %s, want available", st)
	}
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("snap1")}); err == nil || !strings.Contains(err.Error(), "SnapshotAlreadyExistsFault") {
		t.Errorf("duplicate snapshot name: %v", err)
	}
	// A copy under a new name restores like the original, which is deleted first.
	cp, err := c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("snap1"), TargetSnapshotName: aws.String("snap1-copy")})
	if err != nil || aws.ToString(cp.Snapshot.SnapshotStatus) != "creating" {
		t.Fatalf("CopySnapshot: %v", err)
	}
	copied := waitSnapshot(t, c, "snap1-copy")
	if a, b := aws.ToString(copied.NodeSnapshots[0].CacheSize), aws.ToString(snap.NodeSnapshots[0].CacheSize); a != b || aws.ToString(copied.CacheClusterId) != "src" {
		t.Errorf("copy: CacheSize %s (original %s), CacheClusterId %s", a, b, aws.ToString(copied.CacheClusterId))
	}
	if _, err := c.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("snap1")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "snap1 deleted", func() error {
		if _, err := c.DescribeSnapshots(context.Background(), &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("snap1")}); err == nil {
			return fmt.Errorf("still listed")
		}
		return nil
	})
	if err := check(valkeyCluster(t, c, "dst", "snap1-copy")); err != nil {
		t.Errorf("restored cluster: %v", err)
	}

	// A replication group's snapshot is copied from its replica.
	_, checkGroup := groupWithData(t, c, "grp", 3000)
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("grp"), SnapshotName: aws.String("grp-snap")}); err != nil {
		t.Fatalf("CreateSnapshot of a group: %v", err)
	}
	gs := waitSnapshot(t, c, "grp-snap")
	if st := aws.ToString(describeGroup(t, c, "grp").Status); st != "available" {
		t.Errorf("group after its snapshot: %s, want available", st)
	}
	if aws.ToString(gs.ReplicationGroupId) != "grp" || aws.ToString(gs.NodeSnapshots[0].CacheClusterId) != "grp-002" || aws.ToInt32(gs.NumNodeGroups) != 1 {
		t.Errorf("group snapshot: group %s, copied from %s, %d node groups", aws.ToString(gs.ReplicationGroupId), aws.ToString(gs.NodeSnapshots[0].CacheClusterId), aws.ToInt32(gs.NumNodeGroups))
	}
	if err := checkGroup(valkeyCluster(t, c, "from-grp", "grp-snap")); err != nil {
		t.Errorf("restored from the group snapshot: %v", err)
	}
	// SnapshottingClusterId chooses the member snapshots are copied from.
	mod, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("grp"), SnapshottingClusterId: aws.String("grp-001"), ApplyImmediately: aws.Bool(true)})
	if err != nil || aws.ToString(mod.ReplicationGroup.SnapshottingClusterId) != "grp-001" {
		t.Fatalf("ModifyReplicationGroup SnapshottingClusterId: %v", err)
	}
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("grp"), SnapshotName: aws.String("from-primary")}); err != nil {
		t.Fatal(err)
	}
	if fp := waitSnapshot(t, c, "from-primary"); aws.ToString(fp.NodeSnapshots[0].CacheClusterId) != "grp-001" {
		t.Errorf("snapshot with SnapshottingClusterId grp-001 copied from %s", aws.ToString(fp.NodeSnapshots[0].CacheClusterId))
	}
	// The same snapshot restores into a new replication group: the primary loads it, the replica syncs.
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("grp2"), ReplicationGroupDescription: aws.String("grp2"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), SnapshotName: aws.String("grp-snap"),
	}); err != nil {
		t.Fatalf("restore into a group: %v", err)
	}
	g2 := waitGroupAvailable(t, c, "grp2")
	reader := redis.NewClient(&redis.Options{Addr: addr(g2.NodeGroups[0].ReaderEndpoint)})
	defer reader.Close()
	eventually(t, 10*time.Second, "the restored group's replica has the data", func() error { return checkGroup(reader) })
	list, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotSource: aws.String("user")})
	if err != nil || len(list.Snapshots) != 3 {
		t.Errorf("DescribeSnapshots user: %d snapshots, %v", len(list.Snapshots), err)
	}

	// Deleting frees the files.
	for _, name := range []string{"snap1-copy", "grp-snap", "from-primary"} {
		del, err := c.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String(name)})
		if err != nil || aws.ToString(del.Snapshot.SnapshotStatus) != "deleting" {
			t.Fatalf("DeleteSnapshot %s: %v", name, err)
		}
	}
	eventually(t, 10*time.Second, "snapshots and their files gone", func() error {
		if out, err := c.DescribeSnapshots(context.Background(), &elasticache.DescribeSnapshotsInput{}); err != nil || len(out.Snapshots) > 0 {
			return fmt.Errorf("%d snapshots left, %v", len(out.Snapshots), err)
		}
		entries, _ := os.ReadDir(filepath.Join(srv.dataDir, "snapshots"))
		if len(entries) > 0 {
			return fmt.Errorf("%d snapshot directories left", len(entries))
		}
		return nil
	})
}

// TestClusterModeSnapshotRestore snapshots a two-shard cluster mode group (one file per shard, with its
// slots) and restores it into a new two-shard group: every key is served again through the new group's
// configuration endpoint.
func TestClusterModeSnapshotRestore(t *testing.T) {
	srv, c, g := startShardedGroup(t, "valkey", "shards", 2, 1)
	_ = srv
	ctx := ctxT(t)
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	writeClusterKeys(t, rdb, "k", 3000)
	eventually(t, 10*time.Second, "replicas hold every key", func() error {
		var total int64
		err := rdb.ForEachShard(context.Background(), func(ctx context.Context, node *redis.Client) error {
			if role := node.Do(ctx, "ROLE").Val(); role != nil {
				if r, ok := role.([]any); ok && len(r) > 0 && r[0] == "slave" {
					total += node.DBSize(ctx).Val()
				}
			}
			return nil
		})
		if err != nil || total != 3000 {
			return fmt.Errorf("replicas hold %d keys, %v", total, err)
		}
		return nil
	})
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("shards"), SnapshotName: aws.String("two")}); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	waitSnapshot(t, c, "two")
	out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("two"), ShowNodeGroupConfig: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	ns := out.Snapshots[0].NodeSnapshots
	if len(ns) != 2 || ns[0].NodeGroupConfiguration == nil || aws.ToString(ns[0].NodeGroupConfiguration.Slots) != "0-8191" || aws.ToString(ns[1].NodeGroupId) != "0002" {
		t.Fatalf("node snapshots: %+v", ns)
	}
	// Each node group's copy is an event of the member it was copied from; the whole snapshot's is the first
	// one's, as on ElastiCache.
	for _, e := range []struct{ from, want string }{
		{aws.ToString(ns[0].CacheClusterId), "Snapshot with ID 'two' of replication group with ID 'shards': node group 0001 copied (1 of 2)"},
		{aws.ToString(ns[1].CacheClusterId), "Snapshot with ID 'two' of replication group with ID 'shards': node group 0002 copied (2 of 2)"},
		{aws.ToString(ns[0].CacheClusterId), "Snapshot succeeded for snapshot with ID 'two' of replication group with ID 'shards'"},
	} {
		if msgs := eventMessages(t, c, e.from); !contains(msgs, e.want) {
			t.Errorf("events of %s: %q, want %q", e.from, msgs, e.want)
		}
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("again"), ReplicationGroupDescription: aws.String("again"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), SnapshotName: aws.String("two"),
	}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	again := waitGroupAvailable(t, c, "again")
	for _, id := range []string{"again-0001-001", "again-0002-001"} {
		msgs := eventMessages(t, c, id) // newest first
		started, finished := slices.Index(msgs, "Restoring cache node 0001 from snapshot 'two'"), slices.Index(msgs, "Finished restoring cache node 0001 from snapshot 'two'")
		if started < 0 || finished < 0 || finished > started {
			t.Errorf("events of %s: %q, want the restore's start and then its end", id, msgs)
		}
	}
	restored := clusterClient(addr(again.ConfigurationEndpoint))
	defer restored.Close()
	if err := checkClusterKeys(restored, "k", 3000); err != nil {
		t.Errorf("restored group: %v", err)
	}
	if slots := slotsOf(t, again); slots["0001"] != "0-8191" || slots["0002"] != "8192-16383" {
		t.Errorf("restored slots: %v", slots)
	}

	// Into one node (a cache cluster, and a cluster mode disabled group whose replica syncs from it): the
	// node groups' keys are merged.
	merged := valkeyCluster(t, c, "merged", "two")
	if n := merged.DBSize(ctx).Val(); n != 3000 {
		t.Errorf("snapshot of 2 node groups restored into a cache cluster: DBSIZE %d", n)
	}
	if err := checkKeys(merged, 3000); err != nil {
		t.Errorf("snapshot of 2 node groups restored into a cache cluster: %v", err)
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("onenode"), ReplicationGroupDescription: aws.String("merged"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), SnapshotName: aws.String("two"),
	}); err != nil {
		t.Fatalf("restore into a cluster mode disabled group: %v", err)
	}
	one := waitGroupAvailable(t, c, "onenode")
	reader := redis.NewClient(&redis.Options{Addr: addr(one.NodeGroups[0].ReaderEndpoint)})
	defer reader.Close()
	eventually(t, 10*time.Second, "the merged group's replica holds every key", func() error { return checkKeys(reader, 3000) })

	// Into another number of node groups: the keys are redistributed by slot.
	for _, n := range []int32{3, 1} {
		id := fmt.Sprintf("into%d", n)
		if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"), ClusterMode: types.ClusterModeEnabled,
			CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(n), ReplicasPerNodeGroup: aws.Int32(0), SnapshotName: aws.String("two"),
		}); err != nil {
			t.Fatalf("restore into %d node groups: %v", n, err)
		}
		rg := waitGroupAvailable(t, c, id)
		if slots := slotsOf(t, rg); len(slots) != int(n) {
			t.Errorf("restored into %d node groups: %v", n, slots)
		}
		cc := clusterClient(addr(rg.ConfigurationEndpoint))
		if err := checkClusterKeys(cc, "k", 3000); err != nil {
			t.Errorf("restored into %d node groups: %v", n, err)
		}
		cc.Close()
	}
}

// TestKillEcacheDuringSnapshot kills ecache right after CreateSnapshot, while the copy runs: after a restart
// the snapshot ends available with every key (the copy is done again) or failed, never available with a
// partial file. Then it kills ecache right after a restore from it started: the restored cluster still ends
// with every key, and without the snapshot file left in its node directory.
func TestKillEcacheDuringSnapshot(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("big"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "big")
	rdb := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "big").CacheNodes[0].Endpoint)})
	defer rdb.Close()
	const keys = 200_000
	value := strings.Repeat("v", 200)
	p := rdb.Pipeline()
	for i := range keys {
		p.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("%d-%s", i, value), 0)
		if i%5000 == 4999 {
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("big"), SnapshotName: aws.String("cut")}); err != nil {
		t.Fatal(err)
	}
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	var status string
	eventually(t, 60*time.Second, "the snapshot settled", func() error {
		out, err := c.DescribeSnapshots(context.Background(), &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("cut")})
		if err != nil {
			return err
		}
		if status = aws.ToString(out.Snapshots[0].SnapshotStatus); status == "creating" {
			return fmt.Errorf("still creating")
		}
		return nil
	})
	t.Logf("snapshot %s after the restart; copy logged by the restarted ecache: %v", status, strings.Contains(srv.logs(), "snapshot shard copied"))
	parts, _ := filepath.Glob(filepath.Join(srv.dataDir, "snapshots", "*", "*.part"))
	if len(parts) > 0 {
		t.Errorf("partial files left: %v", parts)
	}
	if status != "available" {
		if status != "failed" {
			t.Fatalf("snapshot status %s, want available or failed", status)
		}
		return
	}
	// A restore interrupted the same way.
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("back"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), SnapshotName: aws.String("cut")}); err != nil {
		t.Fatal(err)
	}
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	waitAvailable(t, c, "back")
	seeds, _ := filepath.Glob(filepath.Join(srv.dataDir, "nodes", "back-*", "dump.rdb"))
	if len(seeds) > 0 {
		t.Errorf("the snapshot file stayed in the node's directory: %v", seeds)
	}
	back := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "back").CacheNodes[0].Endpoint)})
	defer back.Close()
	if n := back.DBSize(ctx).Val(); n != keys {
		t.Fatalf("restored %d keys, want %d", n, keys)
	}
	for _, i := range []int{0, keys / 2, keys - 1} {
		if v := back.Get(ctx, fmt.Sprintf("k%d", i)).Val(); v != fmt.Sprintf("%d-%s", i, value) {
			t.Errorf("k%d = %.20q", i, v)
		}
	}
}

// TestFinalSnapshot deletes a cache cluster and a replication group with FinalSnapshotIdentifier: the data is
// copied before the engines stop, and each final snapshot restores every key.
func TestFinalSnapshot(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	check := writeDataset(t, valkeyCluster(t, c, "fin", ""), 2000)
	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("fin"), FinalSnapshotIdentifier: aws.String("fin-last")}); err != nil {
		t.Fatalf("DeleteCacheCluster with a final snapshot: %v", err)
	}
	waitDeleted(t, c, "fin")
	if snap := waitSnapshot(t, c, "fin-last"); aws.ToString(snap.CacheClusterId) != "fin" {
		t.Errorf("final snapshot of %s, want fin", aws.ToString(snap.CacheClusterId))
	}
	if err := check(valkeyCluster(t, c, "fin2", "fin-last")); err != nil {
		t.Errorf("restored from the final snapshot: %v", err)
	}

	_, checkGroup := groupWithData(t, c, "gfin", 1000)
	if _, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("gfin"), FinalSnapshotIdentifier: aws.String("gfin-last")}); err != nil {
		t.Fatalf("DeleteReplicationGroup with a final snapshot: %v", err)
	}
	eventually(t, 30*time.Second, "the group deleted", func() error {
		if _, err := c.DescribeReplicationGroups(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("gfin")}); err == nil {
			return fmt.Errorf("still listed")
		}
		return nil
	})
	if snap := waitSnapshot(t, c, "gfin-last"); aws.ToString(snap.ReplicationGroupId) != "gfin" || len(snap.NodeSnapshots) != 1 {
		t.Errorf("final group snapshot: %+v", snap)
	} else if from := aws.ToString(snap.NodeSnapshots[0].CacheClusterId); from != "gfin-001" {
		t.Errorf("final group snapshot copied from %s, want the primary gfin-001 (the freshest data)", from)
	}
	if err := checkGroup(valkeyCluster(t, c, "gfin2", "gfin-last")); err != nil {
		t.Errorf("restored from the final group snapshot: %v", err)
	}
}
