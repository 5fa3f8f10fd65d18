package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

func waitAvailable(t *testing.T, c *elasticache.Client, id string) {
	t.Helper()
	w := elasticache.NewCacheClusterAvailableWaiter(c, func(o *elasticache.CacheClusterAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctxT(t), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("waiting for %s to be available: %v", id, err)
	}
}

func waitDeleted(t *testing.T, c *elasticache.Client, id string) {
	t.Helper()
	w := elasticache.NewCacheClusterDeletedWaiter(c, func(o *elasticache.CacheClusterDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctxT(t), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("waiting for %s to be deleted: %v", id, err)
	}
}

func describeCluster(t *testing.T, c *elasticache.Client, id string) types.CacheCluster {
	t.Helper()
	out, err := c.DescribeCacheClusters(ctxT(t), &elasticache.DescribeCacheClustersInput{
		CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	if len(out.CacheClusters) != 1 {
		t.Fatalf("describe %s returned %d clusters", id, len(out.CacheClusters))
	}
	return out.CacheClusters[0]
}

func addr(e *types.Endpoint) string {
	return net.JoinHostPort(aws.ToString(e.Address), strconv.Itoa(int(aws.ToInt32(e.Port))))
}

func eventMessages(t *testing.T, c *elasticache.Client, id string) []string {
	t.Helper()
	out, err := c.DescribeEvents(ctxT(t), &elasticache.DescribeEventsInput{SourceIdentifier: aws.String(id), SourceType: types.SourceTypeCacheCluster})
	if err != nil {
		t.Fatalf("describe events: %v", err)
	}
	var msgs []string
	for _, e := range out.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	return msgs
}

func contains(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

func TestRedisClusterLifecycle(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)

	created, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("Demo"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got, want := aws.ToString(created.CacheCluster.CacheClusterStatus), "creating"; got != want {
		t.Errorf("status after create = %q, want %q", got, want)
	}
	if got, want := aws.ToString(created.CacheCluster.CacheClusterId), "demo"; got != want {
		t.Errorf("id = %q, want lowercase %q", got, want)
	}
	if got, want := aws.ToString(created.CacheCluster.ARN), "arn:aws:elasticache:us-east-1:"+srv.account+":cluster:demo"; got != want {
		t.Errorf("ARN = %q, want %q", got, want)
	}
	waitAvailable(t, c, "demo")
	cl := describeCluster(t, c, "demo")
	if len(cl.CacheNodes) != 1 || cl.CacheNodes[0].Endpoint == nil {
		t.Fatalf("want one node with an endpoint, got %+v", cl.CacheNodes)
	}
	if got, want := aws.ToString(cl.CacheParameterGroup.CacheParameterGroupName), "default.redis7"; got != want {
		t.Errorf("parameter group = %q, want %q", got, want)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
	defer rdb.Close()
	if err := rdb.Set(ctx, "hello", "world", 0).Err(); err != nil {
		t.Fatalf("SET through the reported endpoint: %v", err)
	}
	if got, _ := rdb.Get(ctx, "hello").Result(); got != "world" {
		t.Errorf("GET hello = %q, want world", got)
	}
	mm, err := rdb.ConfigGet(ctx, "maxmemory").Result()
	if err != nil || mm["maxmemory"] != "402653184" {
		t.Errorf("maxmemory = %v (%v), want 402653184 (cache.t3.micro less 25%% reserved)", mm, err)
	}

	// Reboot really restarts the engine: a new pid, and the cluster passes through "rebooting cluster nodes".
	before := enginePIDs(srv.dataDir)
	rb, err := c.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("demo"), CacheNodeIdsToReboot: []string{"0001"}})
	if err != nil {
		t.Fatalf("reboot: %v", err)
	}
	if got, want := aws.ToString(rb.CacheCluster.CacheClusterStatus), "rebooting cluster nodes"; got != want {
		t.Errorf("status after reboot = %q, want %q", got, want)
	}
	waitAvailable(t, c, "demo")
	after := enginePIDs(srv.dataDir)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("engine processes before/after reboot: %v / %v", before, after)
	}
	for id, pid := range before {
		if after[id] == pid || after[id] == 0 {
			t.Errorf("node %s pid before reboot %d, after %d: want a new process", id, pid, after[id])
		}
	}
	msgs := eventMessages(t, c, "demo")
	for _, want := range []string{"Cache cluster created", "Added cache node 0001 in availability zone us-east-1a", "Cache node 0001 shutdown", "Cache node 0001 restarted"} {
		if !contains(msgs, want) {
			t.Errorf("events %q lack %q", msgs, want)
		}
	}

	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("demo")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitDeleted(t, c, "demo")
	if pids := enginePIDs(srv.dataDir); len(pids) != 0 {
		t.Errorf("engines left after delete: %v", pids)
	}
	eventually(t, 5*time.Second, "port freed", func() error {
		if listening(addr(cl.CacheNodes[0].Endpoint)) {
			return fmt.Errorf("%s still accepts connections", addr(cl.CacheNodes[0].Endpoint))
		}
		return nil
	})
}

// memcachedCommand sends one text command and reads the reply up to a line equal to end.
func memcachedCommand(t *testing.T, address, cmd, end string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, cmd); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil || strings.TrimRight(line, "\r\n") == end {
			return b.String()
		}
	}
}

func TestMemcachedClusterLifecycle(t *testing.T) {
	requireBinary(t, "memcached")
	srv := startServer(t)
	c := srv.client("eu-west-1")
	ctx := ctxT(t)

	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("mc"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(3),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	waitAvailable(t, c, "mc")
	cl := describeCluster(t, c, "mc")
	if got := len(cl.CacheNodes); got != 3 {
		t.Fatalf("nodes = %d, want 3", got)
	}
	if cl.ConfigurationEndpoint == nil {
		t.Fatal("no ConfigurationEndpoint")
	}
	if !strings.HasSuffix(aws.ToString(cl.ARN), ":cluster:mc") || !strings.Contains(aws.ToString(cl.ARN), ":eu-west-1:") {
		t.Errorf("ARN %q does not name region eu-west-1", aws.ToString(cl.ARN))
	}
	// Every node is a real memcached.
	for _, n := range cl.CacheNodes {
		got := memcachedCommand(t, addr(n.Endpoint), "set k 0 0 1\r\nv\r\n", "STORED")
		if !strings.HasPrefix(got, "STORED") {
			t.Errorf("set on node %s: %q", aws.ToString(n.CacheNodeId), got)
		}
	}
	checkDiscovery := func(wantNodes int, wantVersion string) {
		t.Helper()
		reply := memcachedCommand(t, addr(cl.ConfigurationEndpoint), "config get cluster\r\n", "END")
		lines := strings.Split(reply, "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "CONFIG cluster 0 ") {
			t.Fatalf("config get cluster reply %q", reply)
		}
		if got := lines[1]; got != wantVersion {
			t.Errorf("config version = %q, want %q", got, wantVersion)
		}
		entries := strings.Fields(lines[2])
		if len(entries) != wantNodes {
			t.Errorf("config lists %d nodes (%q), want %d", len(entries), lines[2], wantNodes)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(lines[0], "CONFIG cluster 0 ")))
		if want := len(lines[1]) + 1 + len(lines[2]) + 1; n != want {
			t.Errorf("CONFIG byte count = %d, want %d", n, want)
		}
		for _, e := range entries {
			parts := strings.Split(e, "|")
			if len(parts) != 3 {
				t.Errorf("entry %q is not host|ip|port", e)
				continue
			}
			stats := memcachedCommand(t, net.JoinHostPort(parts[1], parts[2]), "version\r\n", "")
			if !strings.HasPrefix(stats, "VERSION ") {
				t.Errorf("node %s does not answer version: %q", e, stats)
			}
		}
	}
	checkDiscovery(3, "1")

	// Scale out to 5 nodes, immediately.
	mod, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(5), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scale out: %v", err)
	}
	if got := aws.ToString(mod.CacheCluster.CacheClusterStatus); got != "modifying" {
		t.Errorf("status after scale-out = %q, want modifying", got)
	}
	if got := aws.ToInt32(mod.CacheCluster.PendingModifiedValues.NumCacheNodes); got != 5 {
		t.Errorf("pending NumCacheNodes = %d, want 5", got)
	}
	waitAvailable(t, c, "mc")
	cl = describeCluster(t, c, "mc")
	if got := aws.ToInt32(cl.NumCacheNodes); got != 5 || len(cl.CacheNodes) != 5 {
		t.Errorf("after scale-out NumCacheNodes = %d with %d nodes, want 5", got, len(cl.CacheNodes))
	}
	checkDiscovery(5, "2")
	if pids := enginePIDs(srv.dataDir); len(pids) != 5 {
		t.Errorf("engine processes after scale-out = %d, want 5", len(pids))
	}

	// Scale in by naming the nodes to remove.
	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(4),
		CacheNodeIdsToRemove: []string{"0002"}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("scale in: %v", err)
	}
	waitAvailable(t, c, "mc")
	cl = describeCluster(t, c, "mc")
	for _, n := range cl.CacheNodes {
		if aws.ToString(n.CacheNodeId) == "0002" {
			t.Errorf("node 0002 still listed after scale-in")
		}
	}
	checkDiscovery(4, "3")
	msgs := eventMessages(t, c, "mc")
	for _, want := range []string{"Increasing number of requested nodes", "Finished modifying number of nodes from 3 to 5", "Finished modifying number of nodes from 5 to 4"} {
		if !contains(msgs, want) {
			t.Errorf("events %q lack %q", msgs, want)
		}
	}

	// Reboot two nodes: both get new processes.
	before := enginePIDs(srv.dataDir)
	if _, err := c.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("mc"), CacheNodeIdsToReboot: []string{"0001", "0003"}}); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	waitAvailable(t, c, "mc")
	after := enginePIDs(srv.dataDir)
	changed := 0
	for id, pid := range before {
		if after[id] != pid {
			changed++
		}
	}
	if changed != 2 {
		t.Errorf("%d engine processes changed on reboot of 2 nodes (before %v, after %v)", changed, before, after)
	}

	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("mc")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitDeleted(t, c, "mc")
	if pids := enginePIDs(srv.dataDir); len(pids) != 0 {
		t.Errorf("engines left after delete: %v", pids)
	}
	if listening(addr(cl.ConfigurationEndpoint)) {
		t.Errorf("configuration endpoint %s still listening after delete", addr(cl.ConfigurationEndpoint))
	}
}

// TestParameterGroupReachesEngine changes a user parameter group of a running cluster: an immediate
// parameter reaches the engine at once, a requires-reboot one waits for RebootCacheCluster.
func TestParameterGroupReachesEngine(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{
		CacheParameterGroupName: aws.String("tuned"), CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("tuned"),
	}); err != nil {
		t.Fatalf("create parameter group: %v", err)
	}
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("p"), Engine: aws.String("redis"), EngineVersion: aws.String("7.0"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheParameterGroupName: aws.String("tuned"),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	waitAvailable(t, c, "p")
	cl := describeCluster(t, c, "p")
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint), MaxRetries: 5})
	defer rdb.Close()
	config := func(name string) string {
		v, err := rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v", name, err)
		}
		return v[name]
	}
	if got := config("maxmemory-policy"); got != "volatile-lru" {
		t.Errorf("maxmemory-policy = %q, want the ElastiCache default volatile-lru", got)
	}
	if err := rdb.Set(ctx, "kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyCacheParameterGroup(ctx, &elasticache.ModifyCacheParameterGroupInput{
		CacheParameterGroupName: aws.String("tuned"),
		ParameterNameValues: []types.ParameterNameValue{
			{ParameterName: aws.String("maxmemory-policy"), ParameterValue: aws.String("allkeys-lru")},
			{ParameterName: aws.String("databases"), ParameterValue: aws.String("32")},
		},
	}); err != nil {
		t.Fatalf("modify parameter group: %v", err)
	}
	eventually(t, 15*time.Second, "immediate parameter applied", func() error {
		if got := config("maxmemory-policy"); got != "allkeys-lru" {
			return fmt.Errorf("maxmemory-policy = %q", got)
		}
		return nil
	})
	eventually(t, 15*time.Second, "pending-reboot reported", func() error {
		cl = describeCluster(t, c, "p")
		if got := aws.ToString(cl.CacheParameterGroup.ParameterApplyStatus); got != "pending-reboot" {
			return fmt.Errorf("ParameterApplyStatus = %q", got)
		}
		return nil
	})
	if got := cl.CacheParameterGroup.CacheNodeIdsToReboot; len(got) != 1 || got[0] != "0001" {
		t.Errorf("CacheNodeIdsToReboot = %v, want [0001]", got)
	}
	if got := aws.ToString(cl.CacheNodes[0].ParameterGroupStatus); got != "pending-reboot" {
		t.Errorf("node ParameterGroupStatus = %q, want pending-reboot", got)
	}
	if got := config("databases"); got != "16" {
		t.Errorf("databases = %q before the reboot, want 16", got)
	}
	if v, _ := rdb.Get(ctx, "kept").Result(); v != "1" {
		t.Errorf("data lost when the immediate parameter was applied")
	}
	if _, err := c.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("p"), CacheNodeIdsToReboot: []string{"0001"}}); err != nil {
		t.Fatalf("reboot: %v", err)
	}
	waitAvailable(t, c, "p")
	if got := config("databases"); got != "32" {
		t.Errorf("databases = %q after the reboot, want 32", got)
	}
	cl = describeCluster(t, c, "p")
	if got := aws.ToString(cl.CacheParameterGroup.ParameterApplyStatus); got != "in-sync" {
		t.Errorf("ParameterApplyStatus after reboot = %q, want in-sync", got)
	}
	if _, err := c.DeleteCacheParameterGroup(ctx, &elasticache.DeleteCacheParameterGroupInput{CacheParameterGroupName: aws.String("tuned")}); err == nil {
		t.Error("deleting a parameter group in use succeeded")
	}
}

// TestModifyRedisCluster scales a Redis node's type and upgrades its engine version in place: the engine
// keeps its process and its data; without ApplyImmediately the change waits as a pending value.
func TestModifyRedisCluster(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("m"), Engine: aws.String("redis"), EngineVersion: aws.String("7.0"), CacheNodeType: aws.String("cache.t3.micro"),
		PreferredMaintenanceWindow: aws.String(windowAwayFromNow()),
	}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "m")
	cl := describeCluster(t, c, "m")
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pids := enginePIDs(srv.dataDir)

	allowed, err := c.ListAllowedNodeTypeModifications(ctx, &elasticache.ListAllowedNodeTypeModificationsInput{CacheClusterId: aws.String("m")})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(allowed.ScaleUpModifications, "cache.m5.large") || contains(allowed.ScaleDownModifications, "cache.m5.large") {
		t.Errorf("cache.m5.large should be a scale-up of cache.t3.micro: up %v", allowed.ScaleUpModifications)
	}

	// Without ApplyImmediately the new type is pending and the cluster stays available.
	mod, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("m"), CacheNodeType: aws.String("cache.m5.large")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(mod.CacheCluster.PendingModifiedValues.CacheNodeType); got != "cache.m5.large" {
		t.Errorf("pending CacheNodeType = %q, want cache.m5.large", got)
	}
	if got := aws.ToString(mod.CacheCluster.CacheClusterStatus); got != "available" {
		t.Errorf("status with a pending change = %q, want available", got)
	}

	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("m"),
		CacheNodeType: aws.String("cache.m5.large"), EngineVersion: aws.String("7.1"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "m")
	cl = describeCluster(t, c, "m")
	if got := aws.ToString(cl.CacheNodeType); got != "cache.m5.large" {
		t.Errorf("node type = %q, want cache.m5.large", got)
	}
	if got := aws.ToString(cl.EngineVersion); got != "7.1" {
		t.Errorf("engine version = %q, want 7.1", got)
	}
	if mm, _ := rdb.ConfigGet(ctx, "maxmemory").Result(); mm["maxmemory"] != "5140907059" {
		t.Errorf("maxmemory = %v, want 5140907059 (cache.m5.large less 25%%)", mm)
	}
	if v, _ := rdb.Get(ctx, "k").Result(); v != "v" {
		t.Errorf("data lost by the node type change")
	}
	if after := enginePIDs(srv.dataDir); fmt.Sprint(after) != fmt.Sprint(pids) {
		t.Errorf("engine restarted (%v -> %v); the change should apply in place", pids, after)
	}
	msgs := eventMessages(t, c, "m")
	for _, want := range []string{"Finished applying modification to cache node type to cache.m5.large.", "Finished upgrading engine version from 7.0 to 7.1"} {
		if !contains(msgs, want) {
			t.Errorf("events %q lack %q", msgs, want)
		}
	}

	_, err = c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("m"), EngineVersion: aws.String("7.0"), ApplyImmediately: aws.Bool(true)})
	if err == nil {
		t.Fatal("downgrade from 7.1 to 7.0 succeeded")
	}
	if !strings.Contains(err.Error(), "InvalidParameterCombination") {
		t.Errorf("downgrade error = %v, want InvalidParameterCombination", err)
	}
	_, err = c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("m"), NumCacheNodes: aws.Int32(2), ApplyImmediately: aws.Bool(true)})
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Errorf("two nodes for redis: err = %v, want InvalidParameterValue", err)
	}
}

// TestValkeyCluster runs a Valkey node: the engine behind the endpoint is valkey-server.
func TestValkeyCluster(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	out, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("vk"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.r7g.large"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.CacheCluster.CacheParameterGroup.CacheParameterGroupName); got != "default.valkey8" {
		t.Errorf("parameter group = %q, want default.valkey8", got)
	}
	waitAvailable(t, c, "vk")
	cl := describeCluster(t, c, "vk")
	if got := aws.ToString(cl.EngineVersion); got != "8.0" {
		t.Errorf("engine version = %q, want 8.0 (what valkey-server 8.0.1 runs)", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, "valkey_version:8.0") {
		t.Errorf("INFO server does not show valkey 8.0:\n%s", info)
	}
	if mm, _ := rdb.ConfigGet(ctx, "maxmemory").Result(); mm["maxmemory"] != "10527885772" {
		t.Errorf("maxmemory = %v, want 10527885772 (cache.r7g.large less 25%%)", mm)
	}
}

// TestGracefulShutdownKeepsEngines stops ecache with SIGTERM: it exits cleanly, the engine keeps serving,
// and the next start adopts it.
func TestGracefulShutdownKeepsEngines(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
	}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "g")
	cl := describeCluster(t, c, "g")
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint)})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pids := enginePIDs(srv.dataDir)
	if err := srv.stop(); err != nil {
		t.Fatalf("ecache did not exit cleanly on SIGTERM: %v\n%s", err, srv.logs())
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("engine stopped serving while ecache was down: %q, %v", v, err)
	}
	srv.start()
	c = srv.client("us-east-1")
	waitAvailable(t, c, "g")
	if after := enginePIDs(srv.dataDir); fmt.Sprint(after) != fmt.Sprint(pids) {
		t.Errorf("engines %v after restart, want the same processes %v adopted", after, pids)
	}
}

// windowAwayFromNow is a maintenance window three days from today, so that pending changes stay pending
// during the test (the controller applies them inside the window).
func windowAwayFromNow() string {
	day := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[(int(time.Now().UTC().Weekday())+3)%7]
	return day + ":03:00-" + day + ":04:00"
}
