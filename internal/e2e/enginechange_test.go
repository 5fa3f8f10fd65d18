package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/service"
)

// TestRedisGroupMovesToValkey upgrades a Redis OSS replication group to Valkey, as ElastiCache's
// cross-engine upgrade does: every member ends up running valkey-server with the data it had, the group
// reports the new engine, version and default parameter group, and replication goes on.
func TestRedisGroupMovesToValkey(t *testing.T) {
	requireBinary(t, "redis-server", "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("up"), ReplicationGroupDescription: aws.String("up"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "up")
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint)})
	defer primary.Close()
	for i := range 500 {
		if err := primary.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("vk"),
		CacheParameterGroupFamily: aws.String("valkey8"), Description: aws.String("vk")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name string
		in   elasticache.ModifyReplicationGroupInput
	}{
		{"to memcached", elasticache.ModifyReplicationGroupInput{Engine: aws.String("memcached")}},
		{"with another modification", elasticache.ModifyReplicationGroupInput{Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small")}},
		{"with a parameter group of another family", elasticache.ModifyReplicationGroupInput{Engine: aws.String("valkey"), CacheParameterGroupName: aws.String("default.redis7")}},
	} {
		r.in.ReplicationGroupId, r.in.ApplyImmediately = aws.String("up"), aws.Bool(true)
		_, err := c.ModifyReplicationGroup(ctx, &r.in)
		if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
			t.Errorf("%s: %v, want InvalidParameterCombination", r.name, err)
		}
	}
	_, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("up-001"), Engine: aws.String("valkey")})
	if code, _ := apiError(t, err); code != "InvalidCacheClusterState" {
		t.Errorf("engine change of a member cluster: %v, want InvalidCacheClusterState (members change with their group)", err)
	}

	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("up"),
		Engine: aws.String("valkey"), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ReplicationGroup.Status); got != "modifying" {
		t.Errorf("status right after the request = %q, want modifying", got)
	}
	// Writes go on during the change; none that was acknowledged is lost.
	written := 0
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if primary.Set(ctx, fmt.Sprintf("during%d", written), written, 0).Err() == nil {
			written++
		}
		d, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("up")})
		if err == nil && aws.ToString(d.ReplicationGroups[0].Status) == "available" && aws.ToString(d.ReplicationGroups[0].Engine) == "valkey" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	g = waitGroupAvailable(t, c, "up")
	if aws.ToString(g.Engine) != "valkey" {
		t.Fatalf("engine after the change = %q, want valkey", aws.ToString(g.Engine))
	}
	for _, id := range g.MemberClusters {
		cl := describeCluster(t, c, id)
		if aws.ToString(cl.Engine) != "valkey" || !strings.HasPrefix(aws.ToString(cl.EngineVersion), "8.") ||
			aws.ToString(cl.CacheParameterGroup.CacheParameterGroupName) != "default.valkey8" {
			t.Errorf("member %s: %s %s with %s, want valkey 8 with default.valkey8", id, aws.ToString(cl.Engine),
				aws.ToString(cl.EngineVersion), aws.ToString(cl.CacheParameterGroup.CacheParameterGroupName))
		}
		node := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
		info, err := node.Info(ctx, "server").Result()
		node.Close()
		if err != nil || !strings.Contains(info, "valkey_version:8.") {
			t.Errorf("member %s does not run valkey-server: %v\n%s", id, err, info)
		}
	}
	for i := range 500 {
		if v, err := primary.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
			t.Fatalf("k%d after the change = %d, %v", i, v, err)
		}
	}
	for i := range written {
		if v, err := primary.Get(ctx, fmt.Sprintf("during%d", i)).Int(); err != nil || v != i {
			t.Fatalf("during%d, acknowledged while the engines changed: %d, %v", i, v, err)
		}
	}
	reader := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].ReaderEndpoint)})
	defer reader.Close()
	if err := primary.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the replica follows the valkey primary", func() error {
		if v, err := reader.Get(ctx, "after").Result(); v != "1" {
			return fmt.Errorf("GET after on the reader endpoint = %q, %v", v, err)
		}
		return nil
	})
	events, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String("up"), SourceType: types.SourceTypeReplicationGroup})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range events.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	if !containsPrefix(msgs, "Finished upgrading engine from redis 7.") {
		t.Errorf("group events %q lack the end of the engine change", msgs)
	}
	_, err = c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("up"),
		Engine: aws.String("redis"), ApplyImmediately: aws.Bool(true)})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("valkey back to redis: %v, want InvalidParameterCombination", err)
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestShardedRedisGroupMovesToValkey upgrades a cluster mode enabled Redis OSS group to Valkey while a
// client keeps writing through the configuration endpoint: every node ends up on valkey-server in the same
// cluster, with every acknowledged key.
func TestShardedRedisGroupMovesToValkey(t *testing.T) {
	requireBinary(t, "redis-server", "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("sh"), ReplicationGroupDescription: aws.String("sh"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1),
		AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "sh")
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	writeClusterKeys(t, rdb, "before", 300)
	w := startClusterWriter(rdb, "during")
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("sh"),
		Engine: aws.String("valkey"), EngineVersion: aws.String("8.0"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the group on valkey", func() error {
		d, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("sh")})
		if err != nil {
			return err
		}
		if g := d.ReplicationGroups[0]; aws.ToString(g.Status) != "available" || aws.ToString(g.Engine) != "valkey" {
			return fmt.Errorf("group %s on %s", aws.ToString(g.Status), aws.ToString(g.Engine))
		}
		return nil
	})
	g = waitGroupAvailable(t, c, "sh")
	verify := clusterClient(addr(g.ConfigurationEndpoint))
	defer verify.Close()
	w.stop(t, verify)
	if err := checkClusterKeys(verify, "before", 300); err != nil {
		t.Error(err)
	}
	for _, id := range g.MemberClusters {
		cl := describeCluster(t, c, id)
		if aws.ToString(cl.CacheParameterGroup.CacheParameterGroupName) != "default.valkey8.cluster.on" {
			t.Errorf("member %s has parameter group %s", id, aws.ToString(cl.CacheParameterGroup.CacheParameterGroupName))
		}
		node := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
		info, _ := node.Info(ctx, "server").Result()
		state, _ := node.ClusterInfo(ctx).Result()
		node.Close()
		if !strings.Contains(info, "valkey_version:8.") || !strings.Contains(state, "cluster_state:ok") || !strings.Contains(state, "cluster_known_nodes:4") {
			t.Errorf("member %s: not a valkey node of the 4-node cluster:\n%s\n%s", id, info, state)
		}
	}
}

// TestEngineChangeRules: the engine changes ElastiCache refuses are refused with nothing changed, and one
// without ApplyImmediately waits for the maintenance window.
func TestEngineChangeRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	if _, err := c.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("solo") })); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "solo")
	for _, pg := range []struct{ name, family string }{{"r7", "redis7"}, {"vk", "valkey8"}} {
		if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String(pg.name),
			CacheParameterGroupFamily: aws.String(pg.family), Description: aws.String(pg.name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), CacheParameterGroupName: aws.String("r7")}); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "g-001", "g-002")
	markGroupAvailable(t, p.store, "g")
	modify := func(mod func(in *elasticache.ModifyReplicationGroupInput)) func() error {
		return func() error {
			in := &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), Engine: aws.String("valkey"), ApplyImmediately: aws.Bool(true)}
			mod(in)
			_, err := c.ModifyReplicationGroup(ctx, in)
			return err
		}
	}
	runRules(t, p.store, []rule{
		{"a standalone cluster, which must join a group first", func() error {
			_, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("solo"), Engine: aws.String("valkey")})
			return err
		}, "InvalidParameterCombination", 400},
		{"a custom parameter group left without its valkey replacement", modify(func(*elasticache.ModifyReplicationGroupInput) {}), "InvalidParameterCombination", 400},
		{"a valkey version this host does not run", modify(func(in *elasticache.ModifyReplicationGroupInput) {
			in.EngineVersion, in.CacheParameterGroupName = aws.String("9.9"), aws.String("vk")
		}), "InvalidParameterValue", 400},
		{"a parameter group that does not exist", modify(func(in *elasticache.ModifyReplicationGroupInput) { in.CacheParameterGroupName = aws.String("nope") }),
			"CacheParameterGroupNotFound", 404},
	})
	// Without ApplyImmediately the change waits for the window: the group stays available on redis.
	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		Engine: aws.String("valkey"), CacheParameterGroupName: aws.String("vk")})
	if err != nil {
		t.Fatal(err)
	}
	if g := out.ReplicationGroup; aws.ToString(g.Status) != "available" || aws.ToString(g.Engine) != "redis" {
		t.Errorf("group after a change for the window: %s on %s, want available on redis", aws.ToString(g.Status), aws.ToString(g.Engine))
	}
	var g resource.ReplicationGroup
	editRecord(t, p.store, resource.KindReplicationGroup, func(rg *resource.ReplicationGroup) { g = *rg }, "g")
	if ec := g.EngineChange; ec == nil || ec.Immediately || ec.ParameterGroup != "vk" || ec.EngineVersion != "8.0" {
		t.Errorf("recorded engine change %+v, want valkey 8.0 with vk in the window", ec)
	}
}

// windowAroundNow is a maintenance window that is open now: from ten minutes ago for an hour and a half.
func windowAroundNow() string {
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	at := func(t time.Time) string { return fmt.Sprintf("%s:%02d:%02d", days[t.Weekday()], t.Hour(), t.Minute()) }
	from := time.Now().UTC().Add(-10 * time.Minute)
	return at(from) + "-" + at(from.Add(90*time.Minute))
}

// TestPendingGroupChangeAppliedInTheWindow: a group's node type change without ApplyImmediately waits as
// every member's pending value and, applied in the maintenance window, leaves no member showing it.
func TestPendingGroupChangeAppliedInTheWindow(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("win"),
		ReplicationGroupDescription: aws.String("win"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), PreferredMaintenanceWindow: aws.String(windowAroundNow())}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, c, "win")
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("win"),
		CacheNodeType: aws.String("cache.t3.small")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the node type applied in the window on every member", func() error {
		for _, id := range []string{"win-001", "win-002"} {
			m := describeCluster(t, c, id)
			if aws.ToString(m.CacheNodeType) != "cache.t3.small" || aws.ToString(m.CacheClusterStatus) != "available" {
				return fmt.Errorf("member %s: %s, %s", id, aws.ToString(m.CacheNodeType), aws.ToString(m.CacheClusterStatus))
			}
			if p := m.PendingModifiedValues; p != nil && p.CacheNodeType != nil {
				return fmt.Errorf("member %s still shows pending node type %s", id, aws.ToString(p.CacheNodeType))
			}
		}
		return nil
	})
	g := waitGroupAvailable(t, c, "win")
	if aws.ToString(g.CacheNodeType) != "cache.t3.small" {
		t.Errorf("group node type %s after the window applied the change", aws.ToString(g.CacheNodeType))
	}
}
