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
)

func createGroup(t *testing.T, c *elasticache.Client, id string, nodes int32, failover bool) types.ReplicationGroup {
	t.Helper()
	if _, err := c.CreateReplicationGroup(ctxT(t), &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(nodes), AutomaticFailoverEnabled: aws.Bool(failover),
	}); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return waitGroupAvailable(t, c, id)
}

// engineOf returns the pid of a member cluster's engine.
func engineOf(t *testing.T, srv *ecacheProcess, clusterID string) int {
	t.Helper()
	for id, pid := range enginePIDs(srv.dataDir) {
		if strings.HasPrefix(id, clusterID+"-0001-") {
			return pid
		}
	}
	t.Fatalf("no engine for %s", clusterID)
	return 0
}

func writeKeys(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	for i := range n {
		if err := rdb.Set(ctxT(t), fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET k%d: %v", i, err)
		}
	}
}

func checkKeys(rdb redis.UniversalClient, n int) error {
	for i := range n {
		v, err := rdb.Get(context.Background(), fmt.Sprintf("k%d", i)).Result()
		if err != nil || v != fmt.Sprint(i) {
			return fmt.Errorf("k%d = %q, %v", i, v, err)
		}
	}
	return nil
}

// TestReplicaKilledIsReplaced kills a replica's engine: it comes back, follows the primary and has every key.
func TestReplicaKilledIsReplaced(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	g := createGroup(t, c, "rep", 2, true)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint)})
	defer primary.Close()
	writeKeys(t, primary, 500)
	var replica types.NodeGroupMember
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "replica" {
			replica = m
		}
	}
	before := engineOf(t, srv, aws.ToString(replica.CacheClusterId))
	killPID(t, before)
	rdb := redis.NewClient(&redis.Options{Addr: addr(replica.ReadEndpoint), MaxRetries: -1})
	defer rdb.Close()
	eventually(t, 20*time.Second, "replica back with every key", func() error {
		if err := checkKeys(rdb, 500); err != nil {
			return err
		}
		if role, err := rdb.Do(context.Background(), "ROLE").Slice(); err != nil || role[0] != "slave" {
			return fmt.Errorf("ROLE = %v, %v", role, err)
		}
		return nil
	})
	if after := engineOf(t, srv, aws.ToString(replica.CacheClusterId)); after == before {
		t.Errorf("replica engine pid unchanged (%d): it was not restarted", after)
	}
	if p := aws.ToString(primaryMember(waitGroupAvailable(t, c, "rep")).CacheClusterId); p != aws.ToString(primaryMember(g).CacheClusterId) {
		t.Errorf("the primary changed to %s although only a replica died", p)
	}
}

// TestPrimaryRestartedWithoutFailover kills the primary of a group without automatic failover: as on AWS it
// is replaced in place, the endpoint keeps its address, and the data is gone.
func TestPrimaryRestartedWithoutFailover(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	g := createGroup(t, c, "nofo", 2, false)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1})
	defer primary.Close()
	writeKeys(t, primary, 50)
	old := aws.ToString(primaryMember(g).CacheClusterId)
	killPID(t, engineOf(t, srv, old))
	eventually(t, 20*time.Second, "writes at the PrimaryEndpoint again", func() error {
		return primary.Set(context.Background(), "after", "1", 0).Err()
	})
	g = waitGroupAvailable(t, c, "nofo")
	if p := aws.ToString(primaryMember(g).CacheClusterId); p != old {
		t.Errorf("primary moved to %s without automatic failover", p)
	}
	if n, _ := primary.Exists(context.Background(), "k0").Result(); n != 0 {
		t.Errorf("k0 survived a primary restart without persistence; want it gone, as on AWS")
	}
}

// TestKillEcacheWithPrimary kills the primary engine and ecache together: after ecache restarts, the
// failover still happens and no write acknowledged by both replicas is lost.
func TestKillEcacheWithPrimary(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	g := createGroup(t, c, "crash", 3, true)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer primary.Close()
	writeKeys(t, primary, 300)
	waitReplicas(t, primary, 2)
	old := aws.ToString(primaryMember(g).CacheClusterId)
	pid := engineOf(t, srv, old)
	srv.kill()
	killPID(t, pid)
	srv.start()
	c = srv.client("us-east-1")
	primary = redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer primary.Close()
	eventually(t, 30*time.Second, "writes at the PrimaryEndpoint after the restart", func() error {
		return primary.Set(context.Background(), "after", "1", 0).Err()
	})
	if err := checkKeys(primary, 300); err != nil {
		t.Fatalf("acknowledged data lost: %v", err)
	}
	eventually(t, 30*time.Second, "group healed", func() error {
		out, err := c.DescribeReplicationGroups(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("crash")})
		if err != nil {
			return err
		}
		g = out.ReplicationGroups[0]
		if aws.ToString(g.Status) != "available" || aws.ToString(primaryMember(g).CacheClusterId) == old {
			return fmt.Errorf("status %s, primary %s", aws.ToString(g.Status), aws.ToString(primaryMember(g).CacheClusterId))
		}
		if n, err := primary.Wait(context.Background(), 2, time.Second).Result(); err != nil || n != 2 {
			return fmt.Errorf("WAIT 2 = %d, %v", n, err)
		}
		return nil
	})
}

// TestReplicaScaling adds and removes replicas online (IncreaseReplicaCount, DecreaseReplicaCount,
// CreateCacheCluster with a ReplicationGroupId) and checks real replication after each step.
func TestReplicaScaling(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	g := createGroup(t, c, "sc", 2, true)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1})
	defer primary.Close()
	writeKeys(t, primary, 200)
	replicasAck := func(want int64) {
		t.Helper()
		eventually(t, 20*time.Second, fmt.Sprintf("%d replicas acknowledging", want), func() error {
			if n, err := primary.Wait(ctx, int(want), 500*time.Millisecond).Result(); err != nil || n != want {
				return fmt.Errorf("WAIT %d = %d, %v", want, n, err)
			}
			if len(srv.engineProcesses()) != int(want)+1 {
				return fmt.Errorf("%d engines, want %d", len(srv.engineProcesses()), want+1)
			}
			return nil
		})
	}
	if _, err := c.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("sc"),
		NewReplicaCount: aws.Int32(3), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("increase: %v", err)
	}
	g = waitGroupAvailable(t, c, "sc")
	if got := len(g.MemberClusters); got != 4 {
		t.Errorf("members after increase = %v, want 4", g.MemberClusters)
	}
	replicasAck(3)
	newest := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].NodeGroupMembers[3].ReadEndpoint)})
	defer newest.Close()
	if err := checkKeys(newest, 200); err != nil {
		t.Errorf("new replica lacks data: %v", err)
	}

	if _, err := c.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("sc"),
		ReplicasToRemove: []string{"sc-002"}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("decrease: %v", err)
	}
	g = waitGroupAvailable(t, c, "sc")
	if contains(g.MemberClusters, "sc-002") || len(g.MemberClusters) != 3 {
		t.Errorf("members after removing sc-002 = %v", g.MemberClusters)
	}
	replicasAck(2)
	if _, err := c.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("sc"),
		NewReplicaCount: aws.Int32(0), ApplyImmediately: aws.Bool(true)}); err == nil || !strings.Contains(err.Error(), "InvalidParameterCombination") {
		t.Errorf("removing every replica of a group with automatic failover: %v, want InvalidParameterCombination", err)
	}

	// CreateCacheCluster with a ReplicationGroupId adds a replica.
	out, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("sc-extra"), ReplicationGroupId: aws.String("sc")})
	if err != nil {
		t.Fatalf("create replica cluster: %v", err)
	}
	if aws.ToString(out.CacheCluster.ReplicationGroupId) != "sc" || aws.ToString(out.CacheCluster.CacheNodeType) != "cache.t3.micro" {
		t.Errorf("replica cluster = group %q, type %q", aws.ToString(out.CacheCluster.ReplicationGroupId), aws.ToString(out.CacheCluster.CacheNodeType))
	}
	g = waitGroupAvailable(t, c, "sc")
	replicasAck(3)
	for name, edit := range map[string]func(*elasticache.CreateCacheClusterInput){
		"its own node type": func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = aws.String("cache.m5.large") },
		"its own maintenance window": func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow = aws.String("fri:01:00-fri:02:00")
		},
		"a snapshot retention limit": func(in *elasticache.CreateCacheClusterInput) { in.SnapshotRetentionLimit = aws.Int32(3) },
		"a port":                     func(in *elasticache.CreateCacheClusterInput) { in.Port = aws.Int32(6380) },
	} {
		in := &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("sc-x2"), ReplicationGroupId: aws.String("sc")}
		edit(in)
		_, err = c.CreateCacheCluster(ctx, in)
		if code, status := apiError(t, err); code != "InvalidParameterCombination" || status != 400 || !strings.Contains(err.Error(), "Cannot specify additional cache cluster parameters") {
			t.Errorf("replica with %s: %v, want InvalidParameterCombination", name, err)
		}
	}
	// What is a member's own: tags and a notification topic of this account.
	topic := "arn:aws:sns:us-east-1:" + srv.account + ":alerts"
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("sc-x3"), ReplicationGroupId: aws.String("sc"),
		Tags: []types.Tag{{Key: aws.String("x"), Value: aws.String("y")}}, NotificationTopicArn: aws.String(topic)}); err != nil {
		t.Fatalf("replica with tags and a topic: %v", err)
	}
	cl := describeCluster(t, c, "sc-x3")
	if cl.NotificationConfiguration == nil || aws.ToString(cl.NotificationConfiguration.TopicArn) != topic {
		t.Errorf("replica's notification configuration = %+v, want topic %s", cl.NotificationConfiguration, topic)
	}
	tags, err := c.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: cl.ARN})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "x" {
		t.Errorf("replica's tags = %+v (%v), want x=y", tags, err)
	}
}

// TestModifyReplicationGroup moves the primary role to a chosen member, changes the node type of every
// member in place and refuses what the rules forbid.
func TestModifyReplicationGroup(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	g := createGroup(t, c, "mod", 3, true)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1})
	defer primary.Close()
	writeKeys(t, primary, 100)

	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mod"),
		PrimaryClusterId: aws.String("mod-003"), ReplicationGroupDescription: aws.String("moved"), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("modify primary: %v", err)
	}
	if got := aws.ToString(out.ReplicationGroup.PendingModifiedValues.PrimaryClusterId); got != "mod-003" {
		t.Errorf("pending PrimaryClusterId = %q, want mod-003", got)
	}
	eventually(t, 20*time.Second, "mod-003 primary", func() error {
		g = waitGroupAvailable(t, c, "mod")
		if p := aws.ToString(primaryMember(g).CacheClusterId); p != "mod-003" {
			return fmt.Errorf("primary is %s", p)
		}
		return nil
	})
	if got := aws.ToString(g.Description); got != "moved" {
		t.Errorf("description = %q", got)
	}
	if err := checkKeys(primary, 100); err != nil {
		t.Errorf("data after the planned promotion: %v", err)
	}
	if role, _ := primary.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
		t.Errorf("PrimaryEndpoint reaches %v, want the new primary", role)
	}

	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mod"),
		CacheNodeType: aws.String("cache.m5.large"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("modify node type: %v", err)
	}
	g = waitGroupAvailable(t, c, "mod")
	if got := aws.ToString(g.CacheNodeType); got != "cache.m5.large" {
		t.Errorf("node type = %q", got)
	}
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		rdb := redis.NewClient(&redis.Options{Addr: addr(m.ReadEndpoint)})
		mm, _ := rdb.ConfigGet(ctx, "maxmemory").Result()
		rdb.Close()
		if mm["maxmemory"] != "5140907059" {
			t.Errorf("member %s maxmemory = %v, want 5140907059", aws.ToString(m.CacheClusterId), mm)
		}
	}
	if err := checkKeys(primary, 100); err != nil {
		t.Errorf("data after the node type change: %v", err)
	}

	for _, bad := range []*elasticache.ModifyReplicationGroupInput{
		{ReplicationGroupId: aws.String("mod"), AutomaticFailoverEnabled: aws.Bool(false), MultiAZEnabled: aws.Bool(true)},
		{ReplicationGroupId: aws.String("mod"), EngineVersion: aws.String("6.2"), ApplyImmediately: aws.Bool(true)},
		{ReplicationGroupId: aws.String("mod"), Durability: types.DurabilitySync},
	} {
		if _, err := c.ModifyReplicationGroup(ctx, bad); err == nil {
			t.Errorf("modify %+v succeeded", bad)
		}
	}
}

// TestHungPrimaryFailsOver freezes the primary engine (SIGSTOP): the health monitor notices it no longer
// answers and fails over; writes resume at the same PrimaryEndpoint.
func TestHungPrimaryFailsOver(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	g := createGroup(t, c, "hung", 2, true)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1,
		DialTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	defer primary.Close()
	writeKeys(t, primary, 100)
	waitReplicas(t, primary, 1)
	old := aws.ToString(primaryMember(g).CacheClusterId)
	pid := engineOf(t, srv, old)
	if err := syscallStop(pid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 20*time.Second, "writes after the hung primary was replaced", func() error {
		return primary.Set(context.Background(), "after", "1", 0).Err()
	})
	t.Logf("writes resumed %v after the primary hung (stopped at %s)", time.Since(start), start.UTC().Format("15:04:05.000"))
	if err := checkKeys(primary, 100); err != nil {
		t.Errorf("acknowledged data lost: %v", err)
	}
	g = waitGroupAvailable(t, c, "hung")
	if p := aws.ToString(primaryMember(g).CacheClusterId); p == old {
		t.Errorf("the hung member %s is still primary", p)
	}
}

// waitReplicas retries WAIT until n replicas acknowledged every write so far: a replica that has just joined
// can take a moment to acknowledge on a loaded machine.
func waitReplicas(t *testing.T, rdb *redis.Client, n int64) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("WAIT %d", n), func() error {
		got, err := rdb.Wait(context.Background(), int(n), time.Second).Result()
		if err != nil || got < n {
			return fmt.Errorf("WAIT %d = %d, %v", n, got, err)
		}
		return nil
	})
}
