package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

func waitGroupAvailable(t *testing.T, c *elasticache.Client, id string) types.ReplicationGroup {
	t.Helper()
	w := elasticache.NewReplicationGroupAvailableWaiter(c, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	out, err := w.WaitForOutput(ctxT(t), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)}, time.Minute)
	if err != nil {
		t.Fatalf("waiting for replication group %s: %v", id, err)
	}
	return out.ReplicationGroups[0]
}

// deleteGroup deletes a replication group and waits until it is gone.
func deleteGroup(t *testing.T, c *elasticache.Client, id string) {
	t.Helper()
	if _, err := c.DeleteReplicationGroup(ctxT(t), &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	w := elasticache.NewReplicationGroupDeletedWaiter(c, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctxT(t), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("waiting for the deletion of %s: %v", id, err)
	}
}

func primaryMember(g types.ReplicationGroup) types.NodeGroupMember {
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "primary" {
			return m
		}
	}
	return types.NodeGroupMember{}
}

// checkOwnAddresses checks where a cluster mode disabled group's endpoints are: each member and the
// PrimaryEndpoint at an address of its own on 127.0.0.0/8, on port (the Port asked for), and the
// ReaderEndpoint, served by ecache, at the node host.
func checkOwnAddresses(t *testing.T, g types.ReplicationGroup, port int32) {
	t.Helper()
	seen := map[string]bool{}
	check := func(what string, e *types.Endpoint) {
		if a := aws.ToString(e.Address); !strings.HasPrefix(a, "127.1.") || aws.ToInt32(e.Port) != port || seen[a] {
			t.Errorf("%s at %s, want an address of its own on 127.1.0.0/16 at port %d", what, addr(e), port)
		}
		seen[aws.ToString(e.Address)] = true
	}
	check("PrimaryEndpoint", g.NodeGroups[0].PrimaryEndpoint)
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		check("member "+aws.ToString(m.CacheClusterId), m.ReadEndpoint)
	}
	if a := aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address); a != "127.0.0.1" {
		t.Errorf("ReaderEndpoint at %s, want the node host 127.0.0.1", a)
	}
}

// checkDirect checks that a client of the PrimaryEndpoint at ep talks to an engine that listens at ep itself:
// the engine sees the connection arrive at ep (CLIENT INFO laddr), not from a forwarder.
func checkDirect(t *testing.T, c *redis.Client, ep string) {
	t.Helper()
	info, err := c.ClientInfo(ctxT(t)).Result()
	if err != nil {
		t.Fatalf("CLIENT INFO through the PrimaryEndpoint: %v", err)
	}
	if info.LAddr != ep {
		t.Errorf("the engine behind the PrimaryEndpoint %s took the connection at %s: not direct", ep, info.LAddr)
	}
}

// TestReplicationGroupFailover creates a three-node group with automatic failover, checks real replication
// through the stable endpoints, kills the primary engine and checks that writes resume at the same
// PrimaryEndpoint with no acknowledged write lost and the group healed back to three nodes.
func TestReplicationGroupFailover(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	created, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("app"), ReplicationGroupDescription: aws.String("app"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true), Port: aws.Int32(6380),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := aws.ToString(created.ReplicationGroup.Status); got != "creating" {
		t.Errorf("status = %q, want creating", got)
	}
	if got := created.ReplicationGroup.EffectiveDurability; got != types.EffectiveDurabilityDisabled || created.ReplicationGroup.Durability != types.DurabilityDefault {
		t.Errorf("durability %q effective %q, want default resolved to disabled", created.ReplicationGroup.Durability, got)
	}
	g := waitGroupAvailable(t, c, "app")
	if got := g.MemberClusters; len(got) != 3 || got[0] != "app-001" {
		t.Fatalf("member clusters = %v", got)
	}
	primaryEP, readerEP := addr(g.NodeGroups[0].PrimaryEndpoint), addr(g.NodeGroups[0].ReaderEndpoint)
	members, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members.CacheClusters {
		if aws.ToString(m.ReplicationGroupId) != "app" {
			t.Errorf("member %s has ReplicationGroupId %q", aws.ToString(m.CacheClusterId), aws.ToString(m.ReplicationGroupId))
		}
	}
	alone, _ := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheClustersNotInReplicationGroups: aws.Bool(true)})
	if len(alone.CacheClusters) != 0 {
		t.Errorf("ShowCacheClustersNotInReplicationGroups listed %d members", len(alone.CacheClusters))
	}

	primary := redis.NewClient(&redis.Options{Addr: primaryEP, MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer primary.Close()
	reader := redis.NewClient(&redis.Options{Addr: readerEP, MaxRetries: -1})
	defer reader.Close()
	checkOwnAddresses(t, g, 6380)
	checkDirect(t, primary, primaryEP)
	for i := range 200 {
		if err := primary.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET through PrimaryEndpoint: %v", err)
		}
	}
	waitReplicas(t, primary, 2)
	eventually(t, 5*time.Second, "reads through ReaderEndpoint", func() error {
		v, err := reader.Get(ctx, "k199").Result()
		if err != nil || v != "199" {
			return fmt.Errorf("GET k199 = %q, %v", v, err)
		}
		return nil
	})
	if role, _ := reader.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "slave" {
		t.Errorf("ReaderEndpoint reached %v, want a replica", role)
	}
	if err := reader.Set(ctx, "x", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Errorf("write on a replica: %v, want READONLY", err)
	}

	// Kill the primary engine; writes come back at the same address.
	old := primaryMember(g)
	oldAddr := addr(old.ReadEndpoint)
	pids := enginePIDs(srv.dataDir)
	killed := false
	for id, pid := range pids {
		if strings.HasPrefix(id, aws.ToString(old.CacheClusterId)+"-") {
			killPID(t, pid)
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no engine found for the primary %s in %v", aws.ToString(old.CacheClusterId), pids)
	}
	start := time.Now()
	eventually(t, 20*time.Second, "writes at PrimaryEndpoint after failover", func() error {
		return primary.Set(ctx, "after", "1", 0).Err()
	})
	t.Logf("first successful write after SIGKILL of the primary: %v", time.Since(start))
	checkDirect(t, primary, primaryEP) // the promoted replica's engine took the endpoint's address
	for i := range 200 {
		if v, err := primary.Get(ctx, fmt.Sprintf("k%d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("k%d after failover = %q, %v: acknowledged write lost", i, v, err)
		}
	}
	// The group heals: the old primary comes back as a replica of the new one.
	eventually(t, 30*time.Second, "group healed", func() error {
		out, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("app")})
		if err != nil {
			return err
		}
		g = out.ReplicationGroups[0]
		if aws.ToString(g.Status) != "available" {
			return fmt.Errorf("status %s", aws.ToString(g.Status))
		}
		if p := primaryMember(g); aws.ToString(p.CacheClusterId) == aws.ToString(old.CacheClusterId) {
			return errors.New("the failed primary is still primary")
		}
		n, err := primary.Wait(ctx, 2, time.Second).Result()
		if err != nil || n != 2 {
			return fmt.Errorf("WAIT 2 = %d, %v", n, err)
		}
		return nil
	})
	healed := redis.NewClient(&redis.Options{Addr: oldAddr})
	defer healed.Close()
	eventually(t, 10*time.Second, "old primary rejoined as a synced replica", func() error {
		v, err := healed.Get(ctx, "after").Result()
		if err != nil || v != "1" {
			return fmt.Errorf("GET after on the old primary = %q, %v", v, err)
		}
		return nil
	})
	ev, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev.Events {
		found = found || strings.HasPrefix(aws.ToString(e.Message), "Failover from primary node "+aws.ToString(old.CacheClusterId))
	}
	if !found {
		t.Errorf("no failover event among %d replication group events", len(ev.Events))
	}

	// Delete: members and engines go, the endpoints close.
	deleteGroup(t, c, "app")
	if procs := srv.engineProcesses(); len(procs) != 0 {
		t.Errorf("engines left after deleting the group: %v", procs)
	}
	if open := openAddrs([]string{addr(g.NodeGroups[0].PrimaryEndpoint), addr(g.NodeGroups[0].ReaderEndpoint)}); len(open) != 0 {
		t.Errorf("endpoints still listening: %v", open)
	}
	_ = context.Background
}

// TestTestFailover moves the primary role with TestFailover while a client keeps writing through the
// PrimaryEndpoint: no acknowledged write is lost and the events come in AWS's order.
func TestTestFailover(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("tf"), ReplicationGroupDescription: aws.String("tf"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "tf")
	before := aws.ToString(primaryMember(g).CacheClusterId)
	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer primary.Close()

	stop := make(chan struct{})
	acked := make(chan int, 100000)
	go func() {
		defer close(acked)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := primary.Set(ctx, fmt.Sprintf("w%d", i), i, 0).Err(); err == nil {
				acked <- i
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	out, err := c.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("tf"), NodeGroupId: aws.String("0001")})
	if err != nil {
		t.Fatalf("TestFailover: %v", err)
	}
	if got := aws.ToString(out.ReplicationGroup.Status); got != "modifying" {
		t.Errorf("status after TestFailover = %q, want modifying", got)
	}
	_, err = c.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("tf"), NodeGroupId: aws.String("0001")})
	if err == nil || !strings.Contains(err.Error(), "InvalidReplicationGroupState") {
		t.Errorf("second TestFailover during the first: %v, want InvalidReplicationGroupState", err)
	}
	g = waitGroupAvailable(t, c, "tf")
	time.Sleep(100 * time.Millisecond)
	close(stop)
	var keys []int
	for i := range acked {
		keys = append(keys, i)
	}
	after := aws.ToString(primaryMember(g).CacheClusterId)
	if after == before {
		t.Fatalf("primary still %s after TestFailover", before)
	}
	for _, i := range keys {
		if v, err := primary.Get(ctx, fmt.Sprintf("w%d", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("acknowledged write w%d lost across the failover: %q, %v", i, v, err)
		}
	}
	t.Logf("%d writes acknowledged during the test, none lost", len(keys))

	var msgs []string
	eventually(t, 10*time.Second, "failover events", func() error {
		ev, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{})
		if err != nil {
			return err
		}
		msgs = msgs[:0]
		for _, e := range ev.Events {
			msgs = append([]string{aws.ToString(e.SourceIdentifier) + ": " + aws.ToString(e.Message)}, msgs...) // oldest first
		}
		if !contains(msgs, before+": Finished recovery for cache nodes 0001") {
			return fmt.Errorf("no recovery event yet: %q", msgs)
		}
		return nil
	})
	want := []string{
		"tf: Test Failover API called for node group 0001",
		after + ": Failover from primary node " + before + " to replica node " + after + " completed",
		"tf: Failover from primary node " + before + " to replica node " + after + " completed",
		before + ": Recovering cache nodes 0001",
		before + ": Finished recovery for cache nodes 0001",
	}
	pos := -1
	for _, w := range want {
		i := indexOf(msgs, w)
		if i <= pos {
			t.Errorf("event %q missing or out of order in %q", w, msgs)
			break
		}
		pos = i
	}
	_, err = c.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("tf"), NodeGroupId: aws.String("0002")})
	if err == nil || !strings.Contains(err.Error(), "NodeGroupNotFoundFault") {
		t.Errorf("unknown node group: %v, want NodeGroupNotFoundFault", err)
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
