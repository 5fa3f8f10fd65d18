package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/ecache/ecache/bench/internal/benchkit"
	"github.com/redis/go-redis/v9"
)

// startBusy creates n cache clusters busy-1 … busy-n of mb MiB of 1 KiB values each, whose snapshots keep the
// controller busy during some of the failovers.
func startBusy(ctx context.Context, c *elasticache.Client, n, mb int, eng string) error {
	for i := 1; i <= n; i++ {
		if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(fmt.Sprintf("busy-%d", i)),
			Engine: aws.String(eng), CacheNodeType: aws.String("cache.r7g.large"), NumCacheNodes: aws.Int32(1)}); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("busy-%d", i)
		var addr string
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
			if err != nil {
				return err
			}
			if cl := out.CacheClusters[0]; aws.ToString(cl.CacheClusterStatus) == "available" {
				addr = benchkit.Addr(cl.CacheNodes[0].Endpoint)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not available after a minute", id)
			}
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		err := benchkit.Fill(ctx, rdb, mb<<10, 1024)
		rdb.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// snapshotBusy starts a snapshot of each busy cluster and returns their names.
func snapshotBusy(ctx context.Context, c *elasticache.Client, n, run int) ([]string, error) {
	var names []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("busy-%d-run-%d", i, run)
		if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String(fmt.Sprintf("busy-%d", i)), SnapshotName: aws.String(name)}); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// dropSnapshots waits until each snapshot is copied (or failed) and deletes it.
func dropSnapshots(ctx context.Context, c *elasticache.Client, names []string) error {
	for _, name := range names {
		for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name)})
			if err != nil {
				return err
			}
			if st := aws.ToString(out.Snapshots[0].SnapshotStatus); st == "available" || st == "failed" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("snapshot %s not done after 5 minutes", name)
			}
		}
		if _, err := c.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String(name)}); err != nil {
			return err
		}
	}
	return nil
}
