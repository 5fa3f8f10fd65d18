package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// engineProcesses lists the pids of every process running in a node directory under the server's data
// dir (the driver starts engines there), recorded in node.json or not: an orphan shows up here too.
func (s *ecacheProcess) engineProcesses() []int {
	return processesIn(filepath.Join(s.dataDir, "nodes"))
}

// openAddrs returns those of addrs (host:port) that accept connections.
func openAddrs(addrs []string) []string {
	var open []string
	for _, a := range addrs {
		if listening(a) {
			open = append(open, a)
		}
	}
	return open
}

// clusterAddrs lists the addresses a cluster's nodes and configuration endpoint listen on.
func clusterAddrs(cl types.CacheCluster) []string {
	var out []string
	for _, n := range cl.CacheNodes {
		if n.Endpoint != nil {
			out = append(out, addr(n.Endpoint))
		}
	}
	if cl.ConfigurationEndpoint != nil {
		out = append(out, addr(cl.ConfigurationEndpoint))
	}
	return out
}

// TestKillWhileCreating kills ecache right after CreateCacheCluster answers, while the cluster is
// creating; after a restart the cluster becomes available with exactly its nodes running.
func TestKillWhileCreating(t *testing.T) {
	requireBinary(t, "memcached", "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	out, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("mc"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.small"), NumCacheNodes: aws.Int32(4),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	srv.kill()
	if got := aws.ToString(out.CacheCluster.CacheClusterStatus); got != "creating" {
		t.Fatalf("status = %q, want creating", got)
	}
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("r"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
	}); err == nil {
		t.Fatal("a request succeeded while ecache was down")
	}

	srv.start()
	c = srv.client("us-east-1")
	waitAvailable(t, c, "mc")
	cl := describeCluster(t, c, "mc")
	if len(cl.CacheNodes) != 4 {
		t.Fatalf("nodes after restart = %d, want 4", len(cl.CacheNodes))
	}
	if pids := enginePIDs(srv.dataDir); len(pids) != 4 {
		t.Errorf("engine processes = %d (%v), want 4", len(pids), pids)
	}
	if procs := srv.engineProcesses(); len(procs) != 4 {
		t.Errorf("processes in node directories = %v, want 4 (no orphan from before the kill)", procs)
	}
	ports := clusterAddrs(cl)
	if open := openAddrs(ports); len(ports) != 5 || len(open) != 5 {
		t.Errorf("open ports %v of %v, want 4 nodes + 1 configuration endpoint", open, ports)
	}
	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("mc")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitDeleted(t, c, "mc")
	eventually(t, 10*time.Second, "node ports released", func() error {
		if open := openAddrs(ports); len(open) > 0 {
			return fmt.Errorf("ports still listening: %v", open)
		}
		if procs := srv.engineProcesses(); len(procs) > 0 {
			return fmt.Errorf("engine processes left: %v", procs)
		}
		return nil
	})
}

// TestKillWhileDeleting kills ecache while it stops a cluster's engines; after a restart the
// deletion finishes and nothing is left running. A second cluster keeps its data throughout.
func TestKillWhileDeleting(t *testing.T) {
	requireBinary(t, "memcached", "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	for _, in := range []*elasticache.CreateCacheClusterInput{
		{CacheClusterId: aws.String("mc"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(3)},
		{CacheClusterId: aws.String("keep"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")},
	} {
		if _, err := c.CreateCacheCluster(ctx, in); err != nil {
			t.Fatalf("create %s: %v", aws.ToString(in.CacheClusterId), err)
		}
		waitAvailable(t, c, aws.ToString(in.CacheClusterId))
	}
	keep := describeCluster(t, c, "keep")
	rdb := redis.NewClient(&redis.Options{Addr: addr(keep.CacheNodes[0].Endpoint)})
	defer rdb.Close()
	if err := rdb.Set(ctx, "survives", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	keepPIDs := enginePIDs(srv.dataDir)
	mcPorts := clusterAddrs(describeCluster(t, c, "mc"))

	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("mc")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // memcached takes about a second to stop: ecache is mid-deletion
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	waitDeleted(t, c, "mc")
	waitAvailable(t, c, "keep")
	pids := enginePIDs(srv.dataDir)
	if len(pids) != 1 {
		t.Errorf("engine processes after the deletion = %v, want only the redis node", pids)
	}
	for id, pid := range pids {
		if keepPIDs[id] != pid {
			t.Errorf("the surviving node %s was restarted (pid %d, was %d): want it adopted", id, pid, keepPIDs[id])
		}
	}
	if got, err := rdb.Get(ctx, "survives").Result(); err != nil || got != "yes" {
		t.Errorf("GET survives = %q, %v: want the data kept across the ecache restart", got, err)
	}
	eventually(t, 10*time.Second, "the deleted cluster's ports closed", func() error {
		if open := openAddrs(mcPorts); len(open) > 0 {
			return fmt.Errorf("ports of the deleted cluster still listening: %v", open)
		}
		if procs := srv.engineProcesses(); len(procs) != 1 {
			return fmt.Errorf("processes in node directories: %v, want only the redis node", procs)
		}
		return nil
	})
}

// TestEngineKilledIsRestarted kills a node's engine; the controller notices and starts it again.
func TestEngineKilledIsRestarted(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("r"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
	}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "r")
	cl := describeCluster(t, c, "r")
	before := enginePIDs(srv.dataDir)
	killEngines(srv.dataDir)
	rdb := redis.NewClient(&redis.Options{Addr: addr(cl.CacheNodes[0].Endpoint), MaxRetries: -1})
	defer rdb.Close()
	eventually(t, 10*time.Second, "engine answers again", func() error { return rdb.Ping(ctx).Err() })
	after := enginePIDs(srv.dataDir)
	for id, pid := range before {
		if after[id] == 0 || after[id] == pid {
			t.Errorf("node %s: pid %d before the kill, %d after: want a new process", id, pid, after[id])
		}
	}
}
