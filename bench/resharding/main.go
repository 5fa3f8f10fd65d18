// Command resharding measures cluster mode on real engines, side by side in one run:
//
//	go run ./bench/resharding [-keys 1000000] [-engine valkey]
//
// It times a 3-shard group with one replica per shard until available (CreateReplicationGroup through the
// SDK, polling DescribeReplicationGroups), then an online resharding from 3 to 4 shards with N keys:
// ecache's ModifyReplicationGroupShardConfiguration until available, against the same engines formed by
// hand and resharded by `redis-cli --cluster rebalance --cluster-use-empty-masters`, the usual tool. Both
// report keys moved per second (keys on the new shard over the wall time).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	keys := flag.Int("keys", 1_000_000, "keys loaded before resharding")
	eng := flag.String("engine", "valkey", "valkey or redis")
	flag.Parse()
	if err := run(*keys, *eng); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// load writes n keys of 32-byte values through a cluster client, pipelined.
func load(ctx context.Context, rdb *redis.ClusterClient, n int) error {
	value := strings.Repeat("v", 32)
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.Set(ctx, "key:"+strconv.Itoa(i), value, 0)
		if i%5000 == 4999 || i == n-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// newShardKeys counts the keys on the primary serving slot, the new shard's first slot.
func newShardKeys(ctx context.Context, rdb *redis.ClusterClient, slot int) (int64, error) {
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return 0, err
	}
	for _, s := range slots {
		if int(s.Start) <= slot && slot <= int(s.End) {
			c := redis.NewClient(&redis.Options{Addr: s.Nodes[0].Addr})
			defer c.Close()
			return c.DBSize(ctx).Result()
		}
	}
	return 0, fmt.Errorf("nobody serves slot %d", slot)
}

func run(keys int, eng string) error {
	ctx := context.Background()
	s, err := benchkit.Start("30100-30199")
	if err != nil {
		return err
	}
	defer s.Stop()
	c := s.Client()

	begin := time.Now()
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("bench"), ReplicationGroupDescription: aws.String("bench"), Engine: aws.String(eng),
		CacheNodeType: aws.String("cache.r7g.large"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
	}); err != nil {
		return err
	}
	g, err := benchkit.WaitAvailable(ctx, c, "bench", 5*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Printf("CreateReplicationGroup (%s, 3 shards x 2 nodes) -> available: %v\n", eng, time.Since(begin).Round(time.Millisecond))

	cfg := benchkit.Addr(g.ConfigurationEndpoint)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{cfg}})
	defer rdb.Close()
	if err := load(ctx, rdb, keys); err != nil {
		return fmt.Errorf("loading ecache: %w", err)
	}
	begin = time.Now()
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("bench"), NodeGroupCount: aws.Int32(4), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		return err
	}
	if g, err = benchkit.WaitAvailable(ctx, c, "bench", 5*time.Millisecond); err != nil {
		return err
	}
	took := time.Since(begin)
	first := -1
	for _, ng := range g.NodeGroups {
		if aws.ToString(ng.NodeGroupId) == "0004" {
			fmt.Sscanf(aws.ToString(ng.Slots), "%d", &first)
		}
	}
	moved, err := newShardKeys(ctx, rdb, first)
	if err != nil {
		return err
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != int64(keys) {
		return fmt.Errorf("ecache: %d keys after resharding (%v), want %d", n, err, keys)
	}
	ecacheRate := float64(moved) / took.Seconds()
	fmt.Printf("ecache 3 -> 4 shards (1 replica each), %d keys: %v, %d keys moved, %.0f keys/s\n", keys, took.Round(time.Millisecond), moved, ecacheRate)

	bareRate, err := bareRebalance(ctx, eng, keys)
	if err != nil {
		return fmt.Errorf("bare cluster: %w", err)
	}
	fmt.Printf("ratio ecache/redis-cli keys/s: %.2f\n", ecacheRate/bareRate)
	return nil
}

// bareRebalance forms the same cluster by hand (3 primaries with a replica each, on ports 30200+), adds a
// fourth primary with a replica and times `redis-cli --cluster rebalance --cluster-use-empty-masters`.
func bareRebalance(ctx context.Context, eng string, keys int) (float64, error) {
	dir, err := os.MkdirTemp("", "bare-cluster")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	binary := eng + "-server"
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Signal(syscall.SIGKILL)
			_ = p.Wait()
		}
	}()
	addrs := make([]string, 8)
	for i := range addrs {
		port := 30200 + i
		addrs[i] = "127.0.0.1:" + strconv.Itoa(port)
		nodeDir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return 0, err
		}
		p := exec.Command(binary, "--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(port+100), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--dir", nodeDir, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
		if err := p.Start(); err != nil {
			return 0, err
		}
		procs = append(procs, p)
		if err := benchkit.WaitListening(addrs[i], 10*time.Second); err != nil {
			return 0, err
		}
	}
	cli := func(args ...string) error {
		out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"--cluster"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("redis-cli --cluster %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := cli(append([]string{"create"}, append(addrs[:6:6], "--cluster-replicas", "1", "--cluster-yes")...)...); err != nil {
		return 0, err
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs[:1]})
	defer rdb.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := rdb.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bare cluster not ok: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := load(ctx, rdb, keys); err != nil {
		return 0, err
	}
	if err := cli("add-node", addrs[6], addrs[0]); err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second) // let the new node be known before a replica attaches to it
	if err := cli("add-node", addrs[7], addrs[0], "--cluster-slave", "--cluster-master-id", nodeID(ctx, addrs[6])); err != nil {
		return 0, err
	}
	// Rebalancing before every node agrees gets CLUSTERDOWN from the new primary.
	if err := waitClusterOK(ctx, addrs); err != nil {
		return 0, err
	}
	begin := time.Now()
	if err := cli("rebalance", addrs[0], "--cluster-use-empty-masters"); err != nil {
		return 0, err
	}
	took := time.Since(begin)
	n := redis.NewClient(&redis.Options{Addr: addrs[6]})
	defer n.Close()
	moved, err := n.DBSize(ctx).Result()
	if err != nil {
		return 0, err
	}
	rate := float64(moved) / took.Seconds()
	fmt.Printf("redis-cli --cluster rebalance, same engines, 3 -> 4 primaries (1 replica each), %d keys: %v, %d keys moved, %.0f keys/s\n", keys, took.Round(time.Millisecond), moved, rate)
	return rate, nil
}

// waitClusterOK waits until every node reports cluster_state:ok and knows all the others.
func waitClusterOK(ctx context.Context, addrs []string) error {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(addrs))
	deadline := time.Now().Add(time.Minute)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, want) {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return fmt.Errorf("bare cluster: %s not ok: %v\n%s", a, err, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}

func nodeID(ctx context.Context, addr string) string {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	id, _ := c.Do(ctx, "CLUSTER", "MYID").Text()
	return id
}
