package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/hashslot"
)

// keyWriter keeps writing distinct keys (value = key) through a client and remembers the acknowledged ones.
type keyWriter struct {
	stopCh chan struct{}
	pause  sync.RWMutex // held for reading by each write; quiesce holds it to stop them
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  []string
	failed atomic.Int64
}

// startKeyWriter writes with workers goroutines through rdb, a plain or a cluster client.
func startKeyWriter(rdb redis.UniversalClient, prefix string, workers int) *keyWriter {
	w := &keyWriter{stopCh: make(chan struct{})}
	for g := range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stopCh:
					return
				default:
				}
				key := fmt.Sprintf("%s:%d:%d", prefix, g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				w.pause.RLock()
				err := rdb.Set(ctx, key, key, 0).Err()
				w.pause.RUnlock()
				cancel()
				if err != nil {
					w.failed.Add(1)
					time.Sleep(5 * time.Millisecond)
					continue
				}
				w.mu.Lock()
				w.acked = append(w.acked, key)
				w.mu.Unlock()
			}
		}()
	}
	return w
}

func startClusterWriter(rdb *redis.ClusterClient, prefix string) *keyWriter {
	return startKeyWriter(rdb, prefix, 2)
}

// quiesce stops the writers until resume is called, once every primary's acknowledged writes have reached a
// replica (WAIT): replication is asynchronous, so a primary killed right after answering a write may take
// it along, as on ElastiCache without durability.
func (w *keyWriter) quiesce(t *testing.T, rdb *redis.ClusterClient) (resume func()) {
	t.Helper()
	w.pause.Lock()
	err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		return c.Do(ctx, "WAIT", 1, 5000).Err()
	})
	if err != nil {
		t.Logf("WAIT before the kill: %v", err)
	}
	return w.pause.Unlock
}

func (w *keyWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// stop ends the writers and checks that every acknowledged key reads back through verify (with cluster
// mode, a client that loaded the current topology: the writers' client may still route some slots to
// removed nodes).
func (w *keyWriter) stop(t *testing.T, verify redis.UniversalClient) {
	t.Helper()
	close(w.stopCh)
	w.wg.Wait()
	if len(w.acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	lost := 0
	for _, k := range w.acked {
		v, err := verify.Get(context.Background(), k).Result()
		if err != nil || v != k {
			if lost++; lost <= 5 {
				t.Errorf("acknowledged key %s: %q, %v", k, v, err)
			}
		}
	}
	t.Logf("%d acknowledged writes (%d refused while the group changed), %d lost", len(w.acked), w.failed.Load(), lost)
}

func clusterClient(configEndpoint string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{configEndpoint}, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
		MaxRedirects: 8, MaxRetries: 2, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
	})
}

func writeClusterKeys(t *testing.T, rdb *redis.ClusterClient, prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := rdb.Set(ctxT(t), fmt.Sprintf("%s%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatalf("SET %s%d: %v", prefix, i, err)
		}
	}
}

func checkClusterKeys(rdb *redis.ClusterClient, prefix string, n int) error {
	for i := range n {
		v, err := rdb.Get(context.Background(), fmt.Sprintf("%s%d", prefix, i)).Result()
		if err != nil || v != fmt.Sprint(i) {
			return fmt.Errorf("%s%d = %q, %v", prefix, i, v, err)
		}
	}
	return nil
}

// slotsOf lists each node group's slots, and checks that together they cover all 16384 slots once.
func slotsOf(t *testing.T, g types.ReplicationGroup) map[string]string {
	t.Helper()
	out := map[string]string{}
	var all []hashslot.Range
	for _, ng := range g.NodeGroups {
		s := aws.ToString(ng.Slots)
		out[aws.ToString(ng.NodeGroupId)] = s
		rs, err := hashslot.Parse(s)
		if err != nil {
			t.Errorf("node group %s slots %q: %v", aws.ToString(ng.NodeGroupId), s, err)
		}
		all = append(all, rs...)
	}
	if err := hashslot.CheckOverlap(all); err != nil || hashslot.Count(all) != hashslot.NumSlots {
		t.Errorf("node groups serve %d slots (%v), want 16384 once: %v", hashslot.Count(all), err, out)
	}
	return out
}

// primaryOfSlot returns the member cluster whose engine serves slot as primary.
func primaryOfSlot(t *testing.T, c *elasticache.Client, rdb *redis.ClusterClient, slot int) string {
	t.Helper()
	id, err := slotOwner(t, c, rdb, slot)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// killPrimaryOfSlot0 SIGKILLs the engine of the primary serving slot 0 and returns its member cluster once
// a replica serves the slot and takes a write.
func killPrimaryOfSlot0(t *testing.T, srv *ecacheProcess, c *elasticache.Client, cc *redis.ClusterClient) string {
	t.Helper()
	victim := primaryOfSlot(t, c, cc, 0)
	killPID(t, engineOf(t, srv, victim))
	eventually(t, 30*time.Second, "slot 0 served by the replica", func() error {
		p, err := slotOwner(t, c, cc, 0)
		if err != nil {
			return err
		}
		if p == victim {
			return fmt.Errorf("%s still serves slot 0", p)
		}
		return cc.Set(ctxT(t), "after-failover", "1", 0).Err()
	})
	return victim
}

// slotOwner names the member cluster that serves slot, as the node the client asks reports it. During a
// failover that node may be one that knows no owner yet (an old primary back afresh): that is an error to
// retry, not a failure.
func slotOwner(t *testing.T, c *elasticache.Client, rdb *redis.ClusterClient, slot int) (string, error) {
	t.Helper()
	slots, err := rdb.ClusterSlots(ctxT(t)).Result()
	if err != nil {
		return "", fmt.Errorf("CLUSTER SLOTS: %w", err)
	}
	owner := ""
	for _, s := range slots {
		if int(s.Start) <= slot && slot <= int(s.End) {
			owner = s.Nodes[0].Addr
		}
	}
	out, err := c.DescribeCacheClusters(ctxT(t), &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	for _, cl := range out.CacheClusters {
		if len(cl.CacheNodes) > 0 && cl.CacheNodes[0].Endpoint != nil && addr(cl.CacheNodes[0].Endpoint) == owner {
			return aws.ToString(cl.CacheClusterId), nil
		}
	}
	return "", fmt.Errorf("no member cluster serves slot %d (at %q)", slot, owner)
}

func describeGroup(t *testing.T, c *elasticache.Client, id string) types.ReplicationGroup {
	t.Helper()
	out, err := c.DescribeReplicationGroups(ctxT(t), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ReplicationGroups[0]
}

// TestClusterModeGroup is the cluster mode story: a 3-shard group with a replica per shard behind a
// ConfigurationEndpoint, a cluster client writing throughout, an online scale-out to 4 shards, a killed
// primary (promotion and heal), a scale-in with NodeGroupsToRemove, and no acknowledged key lost.
func TestClusterModeGroup(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	created, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("shop"), ReplicationGroupDescription: aws.String("shop"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	rg := created.ReplicationGroup
	if !aws.ToBool(rg.ClusterEnabled) || rg.ClusterMode != types.ClusterModeEnabled || rg.ConfigurationEndpoint == nil || rg.AutomaticFailover != types.AutomaticFailoverStatusEnabled {
		t.Fatalf("created group: ClusterEnabled %v, ClusterMode %q, ConfigurationEndpoint %v, AutomaticFailover %q", aws.ToBool(rg.ClusterEnabled), rg.ClusterMode, rg.ConfigurationEndpoint, rg.AutomaticFailover)
	}
	if got := slotsOf(t, *rg); got["0001"] != "0-5461" || got["0002"] != "5462-10922" || got["0003"] != "10923-16383" {
		t.Errorf("slots = %v, want ElastiCache's even split", got)
	}
	if got := rg.MemberClusters; len(got) != 6 || got[0] != "shop-0001-001" || got[5] != "shop-0003-002" {
		t.Errorf("member clusters = %v", got)
	}
	g := waitGroupAvailable(t, c, "shop")
	if ng := g.NodeGroups[0]; ng.PrimaryEndpoint != nil || ng.NodeGroupMembers[0].CurrentRole != nil {
		t.Errorf("cluster mode node group shows endpoint %v / role %v; ElastiCache shows neither", ng.PrimaryEndpoint, ng.NodeGroupMembers[0].CurrentRole)
	}
	cfg := addr(g.ConfigurationEndpoint)
	rdb := clusterClient(cfg)
	defer rdb.Close()
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") || !strings.Contains(info, "cluster_size:3") {
		t.Fatalf("CLUSTER INFO through the configuration endpoint: %v\n%s", err, info)
	}
	writeClusterKeys(t, rdb, "k", 2000)
	w := startClusterWriter(rdb, "w")

	// Scale out online.
	out, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(4), ApplyImmediately: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("scale out: %v", err)
	}
	if aws.ToString(out.ReplicationGroup.Status) != "modifying" || len(out.ReplicationGroup.NodeGroups) != 4 || out.ReplicationGroup.PendingModifiedValues.Resharding == nil {
		t.Errorf("scale-out response: status %s, %d node groups, resharding %v", aws.ToString(out.ReplicationGroup.Status), len(out.ReplicationGroup.NodeGroups), out.ReplicationGroup.PendingModifiedValues.Resharding)
	}
	g = waitGroupAvailable(t, c, "shop")
	slots := slotsOf(t, g)
	if len(slots) != 4 || slots["0004"] == "" {
		t.Errorf("after scale-out: %v", slots)
	}
	if err := checkClusterKeys(rdb, "k", 2000); err != nil {
		t.Errorf("after scale-out: %v", err)
	}

	// Kill the primary serving slot 0: a replica takes over, the old primary comes back as its replica.
	victim := primaryOfSlot(t, c, rdb, 0)
	before := w.count()
	resume := w.quiesce(t, rdb)
	killPID(t, engineOf(t, srv, victim))
	resume()
	eventually(t, 30*time.Second, "writes after the primary was killed", func() error {
		if w.count() < before+100 {
			return fmt.Errorf("%d writes since the kill", w.count()-before)
		}
		p, err := slotOwner(t, c, rdb, 0)
		if err != nil {
			return err
		}
		if p == victim {
			return fmt.Errorf("%s still serves slot 0", p)
		}
		return nil
	})
	eventually(t, 30*time.Second, "the group healed", func() error {
		g := describeGroup(t, c, "shop")
		if s := aws.ToString(g.Status); s != "available" {
			return fmt.Errorf("status %s", s)
		}
		info, err := rdb.ClusterNodes(context.Background()).Result()
		if err != nil {
			return err
		}
		if n := strings.Count(info, "slave"); n != 4 || strings.Contains(info, "fail") {
			return fmt.Errorf("%d replicas:\n%s", n, info)
		}
		return nil
	})

	// Scale in: node group 0002 gives its slots away and goes.
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true),
		NodeGroupsToRemove: []string{"0002"},
	}); err != nil {
		t.Fatalf("scale in: %v", err)
	}
	g = waitGroupAvailable(t, c, "shop")
	slots = slotsOf(t, g)
	if _, ok := slots["0002"]; ok || len(slots) != 3 {
		t.Errorf("after scale-in: %v", slots)
	}
	eventually(t, 30*time.Second, "removed members deleted", func() error {
		out, err := c.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{})
		if err != nil {
			return err
		}
		for _, cl := range out.CacheClusters {
			if strings.HasPrefix(aws.ToString(cl.CacheClusterId), "shop-0002-") {
				return fmt.Errorf("%s still listed (%s)", aws.ToString(cl.CacheClusterId), aws.ToString(cl.CacheClusterStatus))
			}
		}
		if len(out.CacheClusters) != 6 {
			return fmt.Errorf("%d member clusters, want 6", len(out.CacheClusters))
		}
		return nil
	})
	fresh := clusterClient(cfg)
	defer fresh.Close()
	w.stop(t, fresh)
	if err := checkClusterKeys(fresh, "k", 2000); err != nil {
		t.Errorf("after scale-in: %v", err)
	}
	if n, err := fresh.ClusterInfo(ctx).Result(); err != nil || !strings.Contains(n, "cluster_known_nodes:6") {
		t.Errorf("CLUSTER INFO after scale-in: %v\n%s", err, n)
	}

	deleteGroup(t, c, "shop")
	eventually(t, 10*time.Second, "engines stopped", func() error {
		if pids := enginePIDs(srv.dataDir); len(pids) > 0 {
			return fmt.Errorf("engines still running: %v", pids)
		}
		return nil
	})
}

// startShardedGroup starts ecache and creates a cluster mode enabled group of shards × (1 + replicas) nodes
// of engine, and waits until it is available.
func startShardedGroup(t *testing.T, engine, id string, shards, replicas int32) (*ecacheProcess, *elasticache.Client, types.ReplicationGroup) {
	t.Helper()
	requireBinary(t, engine+"-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	if _, err := c.CreateReplicationGroup(ctxT(t), &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String(engine),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(shards), ReplicasPerNodeGroup: aws.Int32(replicas),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	return srv, c, waitGroupAvailable(t, c, id)
}

// TestKillEcacheMidReshard kills ecache while a scale-out moves slots; after a restart the resharding
// finishes and every key is still there.
func TestKillEcacheMidReshard(t *testing.T) {
	srv, c, g := startShardedGroup(t, "redis", "big", 2, 0)
	ctx := ctxT(t)
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	const keys = 30000
	pipe := rdb.Pipeline()
	for i := range keys {
		pipe.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("loading keys: %v", err)
			}
		}
	}
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("big"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		t.Fatalf("scale out: %v", err)
	}
	eventually(t, 60*time.Second, "slots moving", func() error {
		g := describeGroup(t, c, "big")
		if r := g.PendingModifiedValues.Resharding; r == nil || r.SlotMigration == nil || aws.ToFloat64(r.SlotMigration.ProgressPercentage) == 0 {
			return fmt.Errorf("status %s, no progress yet", aws.ToString(g.Status))
		}
		return nil
	})
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	g = waitGroupAvailable(t, c, "big")
	if slots := slotsOf(t, g); len(slots) != 3 || slots["0003"] == "" {
		t.Errorf("after the restart: %v", slots)
	}
	if err := checkClusterKeys(rdb, "k", keys); err != nil {
		t.Fatalf("after resharding across a restart: %v", err)
	}
	if !strings.Contains(srv.logs(), "slots moved") {
		t.Error("the restarted ecache moved no slots: the kill came after the resharding")
	}
}
