// Command formation measures how long a group takes to form, side by side with forming the same cluster by
// hand, in one run: CreateReplicationGroup of a cluster mode enabled Valkey group (-shards x 2) to
// `available`, against six valkey-server processes started and joined with `valkey-cli --cluster create`
// until every node reports cluster_state:ok and every replica's link is up; and CreateCacheCluster of one
// node to `available`.
//
//	go run ./bench/formation [-runs 5] [-shards 3]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	runs := flag.Int("runs", 5, "formations of each kind to time")
	shards := flag.Int("shards", 3, "shards of the group (each a primary and a replica)")
	flag.Parse()
	if err := run(*runs, *shards); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(runs, shards int) error {
	srv, err := benchkit.Start("30400-30899")
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Client()
	ctx := context.Background()
	var group, byHand, single []time.Duration
	for i := range runs {
		id := fmt.Sprintf("form%d", i)
		start := time.Now()
		if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
			CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(int32(shards)), ReplicasPerNodeGroup: aws.Int32(1),
			ClusterMode: types.ClusterModeEnabled,
		}); err != nil {
			return err
		}
		if err := until(ctx, id+" available", func() (bool, error) {
			g, err := benchkit.Group(ctx, c, id)
			return aws.ToString(g.Status) == "available", err
		}); err != nil {
			return err
		}
		group = append(group, time.Since(start))
		if _, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
			return err
		}

		d, err := formByHand(ctx, shards, 21000+i*20)
		if err != nil {
			return err
		}
		byHand = append(byHand, d)

		cid := fmt.Sprintf("single%d", i)
		start = time.Now()
		if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(cid), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small")}); err != nil {
			return err
		}
		if err := until(ctx, cid+" available", func() (bool, error) {
			out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(cid)})
			return err == nil && aws.ToString(out.CacheClusters[0].CacheClusterStatus) == "available", err
		}); err != nil {
			return err
		}
		single = append(single, time.Since(start))
	}
	fmt.Printf("| %d runs | min | median | max |\n|---|---|---|---|\n", runs)
	row := func(what string, ds []time.Duration) {
		fmt.Printf("| %s | %v | %v | %v |\n", what, benchkit.Percentile(ds, 0).Round(time.Millisecond),
			benchkit.Percentile(ds, 0.5).Round(time.Millisecond), benchkit.Percentile(ds, 1).Round(time.Millisecond))
	}
	row(fmt.Sprintf("ecache: CreateReplicationGroup %d x 2 -> available", shards), group)
	row(fmt.Sprintf("by hand: %d valkey-server started, valkey-cli --cluster create, converged", 2*shards), byHand)
	row("ecache: CreateCacheCluster, 1 Valkey node -> available", single)
	fmt.Printf("\ngroup / by hand at the median: %.2fx\n", float64(benchkit.Percentile(group, 0.5))/float64(benchkit.Percentile(byHand, 0.5)))
	return nil
}

// until polls done every millisecond for up to two minutes.
func until(ctx context.Context, what string, done func() (bool, error)) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if ok, err := done(); err != nil || ok {
			return err
		}
	}
	return errors.New(what + ": not done in two minutes")
}

// formByHand starts 2*shards cluster-enabled valkey-servers on ports from base (their cluster bus ports
// 10000 above: keep both below the kernel's ephemeral range) and forms them into a cluster with valkey-cli,
// returning the time from the first start to a converged cluster.
func formByHand(ctx context.Context, shards, base int) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "formation")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_, _ = p.Process.Wait()
		}
	}()
	start := time.Now()
	var addrs []string
	for i := range 2 * shards {
		port := strconv.Itoa(base + i)
		cmd := exec.Command("valkey-server", "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-"+port+".conf", "--dir", dir, "--save", "", "--appendonly", "no",
			"--repl-diskless-sync-delay", "0", "--cluster-node-timeout", "5000")
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		procs = append(procs, cmd)
		addrs = append(addrs, "127.0.0.1:"+port)
	}
	for _, a := range addrs {
		if err := until(ctx, a+" listening", func() (bool, error) {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
			}
			return err == nil, nil
		}); err != nil {
			return 0, err
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("valkey-cli", args...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("valkey-cli --cluster create: %v\n%s", err, out)
	}
	last := ""
	err = until(ctx, "the cluster formed by hand", func() (bool, error) {
		for _, a := range addrs {
			rdb := redis.NewClient(&redis.Options{Addr: a})
			info, err1 := rdb.ClusterInfo(ctx).Result()
			repl, err2 := rdb.Info(ctx, "replication").Result()
			rdb.Close()
			if err1 != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") {
				last = fmt.Sprintf("%s: %v %v %.40q", a, err1, err2, info)
				return false, nil
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				last = a + ": replica link down"
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("the cluster formed by hand did not converge (%s): %w", last, err)
	}
	return time.Since(start), nil
}
