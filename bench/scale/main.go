// Command scale measures a large cluster mode enabled group: CreateReplicationGroup of -shards x 2 Valkey
// nodes to `available`, then, with the group idle, ecache's RSS beside the engines' total, the CPU each
// side uses over -idle, and the latency of DescribeReplicationGroups of the group and of one
// DescribeCacheClusters page (100 clusters with their nodes).
//
//	go run ./bench/scale [-shards 100] [-idle 10s] [-requests 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	shards := flag.Int("shards", 100, "shards of the group, each a primary and a replica (at most 250)")
	idle := flag.Duration("idle", 10*time.Second, "how long to measure the idle group's CPU")
	requests := flag.Int("requests", 200, "Describe requests of each kind")
	flag.Parse()
	if err := run(*shards, *idle, *requests); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(shards int, idle time.Duration, requests int) error {
	nodes := 2 * shards
	// Every node takes a port and a bus port from the range, which stays below the ephemeral ports.
	srv, err := benchkit.Start("10000-11999", "--max-nodes-per-group", fmt.Sprint(nodes), "--max-nodes", fmt.Sprint(nodes), "--max-clusters", fmt.Sprint(nodes))
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Client()
	ctx := context.Background()

	start := time.Now()
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("scale"), ReplicationGroupDescription: aws.String("scale"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(int32(shards)), ReplicasPerNodeGroup: aws.Int32(1),
		ClusterMode: types.ClusterModeEnabled,
	}); err != nil {
		return err
	}
	if _, err := benchkit.WaitAvailable(ctx, c, "scale", 100*time.Millisecond); err != nil {
		return err
	}
	fmt.Printf("CreateReplicationGroup %d x 2 (%d nodes) -> available: %v\n", shards, nodes, time.Since(start).Round(time.Millisecond))

	ecachePID, engines := srv.Cmd.Process.Pid, srv.EnginePIDs()
	engineRSS := 0
	for _, pid := range engines {
		engineRSS += benchkit.RSSKiB(pid)
	}
	fmt.Printf("RSS: ecache %d KiB; %d engines %d KiB in all (%d KiB each on average); ecache / engines %.3fx\n",
		benchkit.RSSKiB(ecachePID), len(engines), engineRSS, engineRSS/max(len(engines), 1), float64(benchkit.RSSKiB(ecachePID))/float64(engineRSS))

	cpu := func() (ecache, engs float64) {
		for _, pid := range engines {
			engs += benchkit.CPUSeconds(pid)
		}
		return benchkit.CPUSeconds(ecachePID), engs
	}
	e0, g0 := cpu()
	time.Sleep(idle)
	e1, g1 := cpu()
	fmt.Printf("Idle group, CPU over %v: ecache %.2f cores, engines %.2f cores (of 2)\n", idle, (e1-e0)/idle.Seconds(), (g1-g0)/idle.Seconds())

	_, lat, err := benchkit.Load(requests, 4, func() error {
		_, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("scale")})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("DescribeReplicationGroups of the group (%d requests, 4 clients): %s\n", requests, benchkit.Summary(lat))
	_, lat, err = benchkit.Load(requests, 4, func() error {
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
		if err == nil && len(out.CacheClusters) != min(nodes, 100) {
			err = fmt.Errorf("a page of %d clusters", len(out.CacheClusters))
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("DescribeCacheClusters, one page of 100 with nodes (%d requests, 4 clients): %s\n", requests, benchkit.Summary(lat))
	return nil
}
