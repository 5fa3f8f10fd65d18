package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/objectstore/s3test"
)

// TestRestoreFailed restores from an RDB file the engine cannot load (its header is right, its body is
// not). The cluster ends restore-failed, which the SDK's CacheClusterAvailable waiter stops on, with the
// engine's reason in its events and no engine left running; it can only be deleted, and then it is gone. A
// replication group restored from the same file ends create-failed, with its members restore-failed and
// their engines stopped, and is deleted the same way.
func TestRestoreFailed(t *testing.T) {
	requireBinary(t, "valkey-server")
	s3 := s3test.Start(t, false)
	srv := startServer(t, s3Flags(s3, s3.Writer)...)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	s3.CreateBucket(t, "seeds")
	s3.Put(t, "seeds", "damaged.rdb", []byte("REDIS0011\xfa\x09redis-ver\x057.2.4garbage"))
	const arn = "arn:aws:s3:::seeds/damaged.rdb"
	failure := "Failed to restore cache node 0001 from snapshot '" + arn + "': "

	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("bad"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"), SnapshotArns: []string{arn},
	}); err != nil {
		t.Fatalf("CreateCacheCluster from %s: %v", arn, err)
	}
	waiter := elasticache.NewCacheClusterAvailableWaiter(c, func(o *elasticache.CacheClusterAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	err := waiter.Wait(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("bad")}, 60*time.Second)
	if err == nil || !strings.Contains(err.Error(), "transitioned to Failure") {
		t.Fatalf("CacheClusterAvailable waiter on a failed restore: %v, want the waiter's failure state", err)
	}
	if st := aws.ToString(describeCluster(t, c, "bad").CacheClusterStatus); st != "restore-failed" {
		t.Fatalf("cluster status after a failed restore: %s", st)
	}
	var reason string
	for _, m := range eventMessages(t, c, "bad") {
		if strings.HasPrefix(m, failure) {
			reason = strings.TrimPrefix(m, failure)
		}
	}
	if !strings.Contains(reason, "loading DB") || !contains(eventMessages(t, c, "bad"), "Restoring cache node 0001 from snapshot '"+arn+"'") {
		t.Errorf("events of bad: %q, want %q followed by the engine's reason", eventMessages(t, c, "bad"), failure)
	}
	requireNoEngines(t, srv, "after a failed restore")
	if files := filesUnder(t, filepath.Join(srv.dataDir, "snapshots", "imports")); len(files) > 0 {
		t.Errorf("downloads kept after a failed restore: %v", files)
	}
	_, err = c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("bad"), SnapshotRetentionLimit: aws.Int32(1)})
	if code, _ := apiError(t, err); code != "InvalidCacheClusterState" {
		t.Errorf("ModifyCacheCluster of a restore-failed cluster: %v, want InvalidCacheClusterState", err)
	}
	_, err = c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("bad"), FinalSnapshotIdentifier: aws.String("bad-final")})
	if code, _ := apiError(t, err); code != "InvalidCacheClusterState" {
		t.Errorf("final snapshot of a restore-failed cluster: %v, want InvalidCacheClusterState", err)
	}
	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("bad")}); err != nil {
		t.Fatalf("DeleteCacheCluster of a restore-failed cluster: %v", err)
	}
	eventually(t, 30*time.Second, "bad deleted", func() error {
		if _, err := c.DescribeCacheClusters(ctxT(t), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("bad")}); err == nil {
			return fmt.Errorf("still described")
		}
		return nil
	})

	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("badgrp"), ReplicationGroupDescription: aws.String("from a damaged file"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), SnapshotArns: []string{arn},
	}); err != nil {
		t.Fatalf("CreateReplicationGroup from %s: %v", arn, err)
	}
	eventually(t, 60*time.Second, "badgrp create-failed", func() error {
		if st := aws.ToString(describeGroup(t, c, "badgrp").Status); st != "create-failed" {
			return fmt.Errorf("status %s", st)
		}
		return nil
	})
	for _, id := range []string{"badgrp-001", "badgrp-002"} {
		if st := aws.ToString(describeCluster(t, c, id).CacheClusterStatus); st != "restore-failed" {
			t.Errorf("member %s of a group whose restore failed: %s, want restore-failed", id, st)
		}
	}
	requireNoEngines(t, srv, "after a group's failed restore")
	events, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("badgrp")})
	if err != nil {
		t.Fatal(err)
	}
	want := "Failed to create replication group badgrp: cache cluster badgrp-001 could not be restored from snapshot '" + arn + "'"
	if len(events.Events) == 0 || aws.ToString(events.Events[0].Message) != want {
		t.Errorf("newest event of badgrp: %+v, want %q", events.Events, want)
	}
	if _, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("badgrp")}); err != nil {
		t.Fatalf("DeleteReplicationGroup of a create-failed group: %v", err)
	}
	eventually(t, 30*time.Second, "badgrp and its members deleted", func() error {
		out, err := c.DescribeCacheClusters(ctxT(t), &elasticache.DescribeCacheClustersInput{})
		if err != nil || len(out.CacheClusters) > 0 {
			return fmt.Errorf("%d clusters left, %v", len(out.CacheClusters), err)
		}
		if _, err := c.DescribeReplicationGroups(ctxT(t), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("badgrp")}); err == nil {
			return fmt.Errorf("badgrp still described")
		}
		return nil
	})
}

// requireNoEngines fails unless, within a while, no engine runs for the server and no node directory is
// left.
func requireNoEngines(t *testing.T, srv *ecacheProcess, what string) {
	t.Helper()
	eventually(t, 10*time.Second, "no engine left "+what, func() error {
		dirs, _ := os.ReadDir(filepath.Join(srv.dataDir, "nodes"))
		if procs := srv.engineProcesses(); len(procs) > 0 || len(dirs) > 0 {
			return fmt.Errorf("engine processes %v, %d node directories", procs, len(dirs))
		}
		return nil
	})
}
