// Command formation measures how long a group takes to form, side by side with forming the same cluster by
// hand, in one run: CreateReplicationGroup of a cluster mode enabled Valkey group (-shards x 2) to
// `available`, on ecache with its warm engines and on one started with --warm-engines 0, against six
// valkey-server processes started and joined with `valkey-cli --cluster create` until every node reports
// cluster_state:ok and every replica's link is up; and CreateCacheCluster of one node to `available` on both.
//
//	go run ./bench/formation [-runs 5] [-shards 3]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	warm, err := benchkit.Start("30400-30899")
	if err != nil {
		return err
	}
	defer warm.Stop()
	cold, err := benchkit.Start("30900-31399", "--warm-engines", "0")
	if err != nil {
		return err
	}
	defer cold.Stop()
	ctx := context.Background()
	if err := waitWarm(ctx, warm, 2*defaultWarm); err != nil {
		return err
	}
	rss, pss := warmMemory(warm)
	fmt.Printf("%d idle warm engines: RSS %.1f MiB, PSS %.1f MiB in all\n\n", 2*defaultWarm, float64(rss)/(1<<20), float64(pss)/(1<<20))
	var groupWarm, groupCold, byHand, singleWarm, singleCold []time.Duration
	for i := range runs {
		// The pool is full again, and its engines are past the engines' 2-second start delay.
		if err := waitWarm(ctx, warm, 2*defaultWarm); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		d, err := formGroup(ctx, warm.Client(), fmt.Sprintf("form%d", i), shards)
		if err != nil {
			return err
		}
		groupWarm = append(groupWarm, d)
		if d, err = formGroup(ctx, cold.Client(), fmt.Sprintf("form%d", i), shards); err != nil {
			return err
		}
		groupCold = append(groupCold, d)
		if d, err = formByHand(ctx, shards, 21000+i*20); err != nil {
			return err
		}
		byHand = append(byHand, d)
		if d, err = createSingle(ctx, warm.Client(), fmt.Sprintf("single%d", i)); err != nil {
			return err
		}
		singleWarm = append(singleWarm, d)
		if d, err = createSingle(ctx, cold.Client(), fmt.Sprintf("single%d", i)); err != nil {
			return err
		}
		singleCold = append(singleCold, d)
	}
	fmt.Printf("| %d runs | min | median | max |\n|---|---|---|---|\n", runs)
	row := func(what string, ds []time.Duration) {
		fmt.Printf("| %s | %v | %v | %v |\n", what, benchkit.Percentile(ds, 0).Round(time.Millisecond),
			benchkit.Percentile(ds, 0.5).Round(time.Millisecond), benchkit.Percentile(ds, 1).Round(time.Millisecond))
	}
	row(fmt.Sprintf("ecache: CreateReplicationGroup %d x 2 -> available", shards), groupWarm)
	row(fmt.Sprintf("ecache --warm-engines 0: CreateReplicationGroup %d x 2 -> available", shards), groupCold)
	row(fmt.Sprintf("by hand: %d valkey-server started, valkey-cli --cluster create, converged", 2*shards), byHand)
	row("ecache: CreateCacheCluster, 1 Valkey node -> available", singleWarm)
	row("ecache --warm-engines 0: CreateCacheCluster, 1 Valkey node -> available", singleCold)
	med := func(ds []time.Duration) float64 { return float64(benchkit.Percentile(ds, 0.5)) }
	fmt.Printf("\ngroup at the median: by hand / ecache %.2fx, cold / warm %.2fx; one node: cold / warm %.2fx\n",
		med(byHand)/med(groupWarm), med(groupCold)/med(groupWarm), med(singleCold)/med(singleWarm))
	return nil
}

// defaultWarm is ecache's --warm-engines default: idle engines kept of each kind (Valkey, in cluster mode
// and not).
const defaultWarm = 6

// waitWarm waits until srv keeps n idle engines.
func waitWarm(ctx context.Context, srv *benchkit.Server, n int) error {
	return until(ctx, "the warm engines", func() (bool, error) {
		files, err := filepath.Glob(filepath.Join(srv.Dir, "data", "warm", "*", "warm.json"))
		return len(files) >= n, err
	})
}

// warmMemory sums the resident and proportional set sizes of srv's idle warm engines, in bytes.
func warmMemory(srv *benchkit.Server) (rss, pss int64) {
	files, _ := filepath.Glob(filepath.Join(srv.Dir, "data", "warm", "*", "warm.json"))
	for _, f := range files {
		var rec struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &rec) != nil {
			continue
		}
		roll, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", rec.PID))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(roll)) {
			var kb int64
			if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
				kb, _ = strconv.ParseInt(f[1], 10, 64)
				switch f[0] {
				case "Rss:":
					rss += kb << 10
				case "Pss:":
					pss += kb << 10
				}
			}
		}
	}
	return rss, pss
}

// formGroup creates a cluster mode enabled Valkey group of shards x 2 nodes, returns how long it took to
// become available, and deletes it.
func formGroup(ctx context.Context, c *elasticache.Client, id string, shards int) (time.Duration, error) {
	start := time.Now()
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(int32(shards)), ReplicasPerNodeGroup: aws.Int32(1),
		ClusterMode: types.ClusterModeEnabled,
	}); err != nil {
		return 0, err
	}
	if err := until(ctx, id+" available", func() (bool, error) {
		g, err := benchkit.Group(ctx, c, id)
		return aws.ToString(g.Status) == "available", err
	}); err != nil {
		return 0, err
	}
	d := time.Since(start)
	_, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)})
	return d, err
}

// createSingle creates a one-node Valkey cache cluster and returns how long it took to become available.
func createSingle(ctx context.Context, c *elasticache.Client, id string) (time.Duration, error) {
	start := time.Now()
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small")}); err != nil {
		return 0, err
	}
	err := until(ctx, id+" available", func() (bool, error) {
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)})
		return err == nil && aws.ToString(out.CacheClusters[0].CacheClusterStatus) == "available", err
	})
	return time.Since(start), err
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
