package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/objectstore/s3test"
)

// redisOlderThan72 reports whether the installed redis-server reads RDB files only up to format 10.
func redisOlderThan72() bool {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return false
	}
	_, v, ok := strings.Cut(string(out), " v=")
	return ok && (strings.HasPrefix(v, "7.0.") || strings.HasPrefix(v, "7.1.") || strings.HasPrefix(v, "6."))
}

// seededGroup creates a cluster mode enabled group of shards node groups from the RDB files arns and checks
// that it ends with that many node groups holding keys keys.
func seededGroup(t *testing.T, c *elasticache.Client, id string, shards int32, keys int64, arns ...string) {
	t.Helper()
	if _, err := c.CreateReplicationGroup(ctxT(t), &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String("from S3"), Engine: aws.String("valkey"),
		ClusterMode: types.ClusterModeEnabled, CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(shards), ReplicasPerNodeGroup: aws.Int32(0),
		SnapshotArns: arns,
	}); err != nil {
		t.Fatalf("CreateReplicationGroup %s from %d files: %v", id, len(arns), err)
	}
	g := waitGroupAvailable(t, c, id)
	if slots := slotsOf(t, g); len(slots) != int(shards) {
		t.Errorf("%s seeded from %d files into %d node groups: slots %v", id, len(arns), shards, slots)
	}
	if n := clusterKeyCount(t, g); n != keys {
		t.Errorf("%s seeded from %d files holds %d keys, want %d", id, len(arns), n, keys)
	}
}

// clusterKeyCount sums the keys of a cluster mode group's primaries.
func clusterKeyCount(t *testing.T, g types.ReplicationGroup) int64 {
	t.Helper()
	cc := clusterClient(addr(g.ConfigurationEndpoint))
	defer cc.Close()
	var total atomic.Int64
	err := cc.ForEachMaster(ctxT(t), func(ctx context.Context, node *redis.Client) error {
		n, err := node.DBSize(ctx).Result()
		total.Add(n)
		return err
	})
	if err != nil {
		t.Fatalf("counting keys: %v", err)
	}
	return total.Load()
}

// s3Flags are the serve flags that point ecache at the S3 server with key.
func s3Flags(s3 *s3test.Server, key s3test.Key) []string {
	return []string{"--s3-endpoint", s3.Endpoint, "--s3-access-key-id", key.ID, "--s3-secret-access-key", key.Secret}
}

// wantFault checks that err is the API error code with a message containing text.
func wantFault(t *testing.T, what string, err error, code, text string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %s", what, code)
		return
	}
	if got, status := apiError(t, err); got != code || status != 400 || !strings.Contains(err.Error(), text) {
		t.Errorf("%s: %v (HTTP %d), want %s containing %q", what, err, status, code, text)
	}
}

// waitExported waits until snapshot name is available again after an export.
func waitExported(t *testing.T, c *elasticache.Client, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "export of "+name+" finished", func() error {
		out, err := c.DescribeSnapshots(ctxT(t), &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name)})
		if err != nil {
			return err
		}
		if s := aws.ToString(out.Snapshots[0].SnapshotStatus); s != "available" {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
}

// TestSnapshotExportImport exports snapshots to an S3-protocol server (moto_server checking IAM policies)
// and seeds new clusters and groups from the exported RDB files: every key comes back. Each refusal the
// CopySnapshot reference lists gets its error, and so do bad SnapshotArns.
func TestSnapshotExportImport(t *testing.T) {
	requireBinary(t, "valkey-server")
	s3 := s3test.Start(t, true)
	srv := startServer(t, s3Flags(s3, s3.Writer)...)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	check := writeDataset(t, valkeyCluster(t, c, "src", ""), 3000)
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("before-upgrade")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, "before-upgrade")
	export := func(target, bucket string) (*elasticache.CopySnapshotOutput, error) {
		return c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("before-upgrade"), TargetSnapshotName: aws.String(target), TargetBucket: aws.String(bucket)})
	}

	_, err := export("export-1", "no-such-bucket")
	wantFault(t, "export to a missing bucket", err, "InvalidParameterValue", "The S3 bucket no-such-bucket does not exist.")
	s3.CreateBucket(t, "my-bucket")
	s3.Put(t, "my-bucket", "taken.rdb", []byte("someone else's"))
	_, err = export("taken", "my-bucket")
	wantFault(t, "export over an existing object", err, "InvalidParameterValue", "The S3 bucket my-bucket already contains an object with key taken.rdb.")

	out, err := export("Export-1", "my-bucket")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if s := aws.ToString(out.Snapshot.SnapshotStatus); s != "exporting" {
		t.Errorf("CopySnapshot with TargetBucket answered status %s, want exporting", s)
	}
	waitExported(t, c, "before-upgrade")
	data, meta := s3.Get(t, "my-bucket", "export-1.rdb")
	if !bytes.HasPrefix(data, []byte("REDIS")) || meta["ecache-engine"] != "valkey" {
		t.Fatalf("exported object: %d bytes starting %q, metadata %v", len(data), data[:min(9, len(data))], meta)
	}
	if msgs := eventMessages(t, c, "src"); !contains(msgs, "Snapshot export succeeded for snapshot with ID 'before-upgrade' to S3 bucket 'my-bucket'") {
		t.Errorf("no event for the finished export in %q", msgs)
	}
	_, err = export("export-1", "my-bucket")
	wantFault(t, "a second export under the same name", err, "InvalidParameterValue", "already contains an object with key export-1.rdb")

	// Seed a new cluster, and a cluster mode enabled group of two node groups, from the exported file.
	arn := "arn:aws:s3:::my-bucket/export-1.rdb"
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("seeded"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"), SnapshotArns: []string{arn},
	}); err != nil {
		t.Fatalf("CreateCacheCluster from S3: %v", err)
	}
	// ecache killed while the restore downloads: after a restart it is done again.
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	waitAvailable(t, c, "seeded")
	seeded := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "seeded").CacheNodes[0].Endpoint)})
	defer seeded.Close()
	if err := check(seeded); err != nil {
		t.Errorf("cluster seeded from S3: %v", err)
	}
	seededGroup(t, c, "seeded-cme", 2, 3000, arn)

	// Bad SnapshotArns: nothing is created.
	seed := func(id, engine string, arns ...string) error {
		_, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(id), Engine: aws.String(engine), CacheNodeType: aws.String("cache.t3.small"), SnapshotArns: arns,
		})
		return err
	}
	wantFault(t, "a missing object", seed("bad1", "valkey", "arn:aws:s3:::my-bucket/nothing.rdb"), "InvalidParameterValue", "does not exist")
	wantFault(t, "an object that is no RDB file", seed("bad2", "valkey", "arn:aws:s3:::my-bucket/taken.rdb"), "InvalidParameterValue", "is not an RDB file")
	wantFault(t, "a malformed ARN", seed("bad3", "valkey", "arn:aws:s3:::my-bucket"), "InvalidParameterValue", "Invalid S3 object ARN")
	if redisOlderThan72() {
		wantFault(t, "a Valkey file into Redis OSS 7.0", seed("bad5", "redis", arn), "InvalidParameterCombination", "format version")
	}
	if out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(out.CacheClusters) != 4 {
		t.Errorf("clusters after the refused restores: %d, %v (want src, seeded and the group's 2 members)", len(out.CacheClusters), err)
	}

	// A cluster mode snapshot exports one file per node group, with its slots; the files seed a group of
	// another size.
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("seeded-cme"), SnapshotName: aws.String("cme")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, "cme")
	if _, err := c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("cme"), TargetSnapshotName: aws.String("cme-out"), TargetBucket: aws.String("my-bucket")}); err != nil {
		t.Fatal(err)
	}
	// ecache killed during the export: after a restart the export is done again.
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	waitExported(t, c, "cme")
	var arns []string
	for _, ng := range []string{"0001", "0002"} {
		key := "cme-out-" + ng + ".rdb"
		if _, meta := s3.Get(t, "my-bucket", key); meta["ecache-slots"] == "" || meta["ecache-node-group"] != ng {
			t.Errorf("%s metadata: %v", key, meta)
		}
		arns = append(arns, "arn:aws:s3:::my-bucket/"+key)
	}
	seededGroup(t, c, "three", 3, 3000, arns...)
	// The same files merge into the one node group of a cluster mode disabled group; CreateCacheCluster takes
	// a single file, as its reference says.
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("merged"), ReplicationGroupDescription: aws.String("merged"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(1), SnapshotArns: arns,
	}); err != nil {
		t.Fatalf("CreateReplicationGroup from 2 files into one node group: %v", err)
	}
	mg := waitGroupAvailable(t, c, "merged")
	merged := redis.NewClient(&redis.Options{Addr: addr(mg.NodeGroups[0].PrimaryEndpoint)})
	defer merged.Close()
	if err := check(merged); err != nil {
		t.Errorf("group seeded from 2 files: %v", err)
	}
	_, err = c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("merged2"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"), SnapshotArns: arns,
	})
	wantFault(t, "CreateCacheCluster from 2 files", err, "InvalidParameterValue", "single-element list")
	// Files without ecache's slot ranges cannot seed several node groups.
	_, err = c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("noslots"), ReplicationGroupDescription: aws.String("no slots"), Engine: aws.String("valkey"),
		ClusterMode: types.ClusterModeEnabled, CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(0),
		SnapshotArns: []string{arn, arn},
	})
	wantFault(t, "two files without slot ranges into 2 node groups", err, "InvalidParameterValue", "carries no slot ranges")

	// Permissions: ecache restarted with a key that may only read gets the WRITE refusal (and snapshots
	// survive the restart); with an unknown key, the READ refusal.
	srv.args = s3Flags(s3, s3.Reader)
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	_, err = c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("before-upgrade"), TargetSnapshotName: aws.String("export-2"), TargetBucket: aws.String("my-bucket")})
	wantFault(t, "export without write permission", err, "InvalidParameterValue", "ElastiCache has not been granted WRITE permissions my-bucket on the S3 Bucket.")
	srv.args = s3Flags(s3, s3test.Key{ID: "AKIAUNKNOWN000000000", Secret: "unknown"})
	srv.kill()
	srv.start()
	c = srv.client("us-east-1")
	_, err = c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("before-upgrade"), TargetSnapshotName: aws.String("export-2"), TargetBucket: aws.String("my-bucket")})
	wantFault(t, "export without read permission", err, "InvalidParameterValue", "ElastiCache has not been granted READ permissions my-bucket on the S3 Bucket.")
	wantFault(t, "restore without read permission", seed("bad6", "valkey", arn), "InvalidParameterValue", "READ permissions my-bucket")
	if downloads := filesUnder(t, filepath.Join(srv.dataDir, "snapshots", "imports")); len(downloads) > 0 {
		t.Errorf("downloaded restore files left behind: %v", downloads)
	}
	if keys := s3.Keys(t, "my-bucket"); len(keys) != 4 {
		t.Errorf("bucket holds %v, want taken.rdb, export-1.rdb and the two cme-out files", keys)
	}
}

// TestAutomaticSnapshots gives a cluster and a replication group holding data a SnapshotRetentionLimit and a
// snapshot window open now: each gets its automated snapshot (automatic.<id>-YYYY-MM-DD-HH-MM), which
// restores every key; deleting the group deletes its automatic snapshot.
func TestAutomaticSnapshots(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	checkCluster := writeDataset(t, valkeyCluster(t, c, "auto", ""), 1000)
	_, checkGroup := groupWithData(t, c, "autogrp", 1500)
	now := time.Now().UTC()
	window := now.Add(-10*time.Minute).Format("15:04") + "-" + now.Add(50*time.Minute).Format("15:04")
	later := now.Add(84 * time.Hour) // away from the daily snapshot window: the two may not meet
	maintenance := strings.ToLower(later.Format("Mon:15:04") + "-" + later.Add(time.Hour).Format("Mon:15:04"))
	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{
		CacheClusterId: aws.String("auto"), SnapshotRetentionLimit: aws.Int32(1), SnapshotWindow: aws.String(window), PreferredMaintenanceWindow: aws.String(maintenance),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{
		ReplicationGroupId: aws.String("autogrp"), SnapshotRetentionLimit: aws.Int32(3), SnapshotWindow: aws.String(window), PreferredMaintenanceWindow: aws.String(maintenance),
	}); err != nil {
		t.Fatal(err)
	}
	var snaps []types.Snapshot
	eventually(t, 90*time.Second, "automatic snapshots of both sources available", func() error {
		out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotSource: aws.String("system")})
		if err != nil {
			return err
		}
		snaps = out.Snapshots
		if len(snaps) != 2 {
			return fmt.Errorf("%d automatic snapshots", len(snaps))
		}
		for _, s := range snaps {
			if aws.ToString(s.SnapshotStatus) != "available" {
				return fmt.Errorf("%s is %s", aws.ToString(s.SnapshotName), aws.ToString(s.SnapshotStatus))
			}
		}
		return nil
	})
	var clusterSnap, groupSnap string
	for _, s := range snaps {
		name := aws.ToString(s.SnapshotName)
		if aws.ToString(s.SnapshotSource) != "automated" || aws.ToString(s.SnapshotWindow) != window {
			t.Errorf("%s: SnapshotSource %s, SnapshotWindow %s", name, aws.ToString(s.SnapshotSource), aws.ToString(s.SnapshotWindow))
		}
		switch {
		case strings.HasPrefix(name, "automatic.auto-") && aws.ToString(s.CacheClusterId) == "auto":
			clusterSnap = name
		case strings.HasPrefix(name, "automatic.autogrp-") && aws.ToString(s.ReplicationGroupId) == "autogrp":
			groupSnap = name
		}
	}
	if clusterSnap == "" || groupSnap == "" {
		t.Fatalf("automatic snapshots: %+v", snaps)
	}
	if _, err := time.Parse("2006-01-02-15-04", strings.TrimPrefix(clusterSnap, "automatic.auto-")); err != nil {
		t.Errorf("automatic snapshot name %s: %v", clusterSnap, err)
	}
	if out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotSource: aws.String("user")}); err != nil || len(out.Snapshots) != 0 {
		t.Errorf("user snapshots: %d, %v", len(out.Snapshots), err)
	}
	if err := checkCluster(valkeyCluster(t, c, "from-auto", clusterSnap)); err != nil {
		t.Errorf("restored from the cluster's automatic snapshot: %v", err)
	}
	if err := checkGroup(valkeyCluster(t, c, "from-autogrp", groupSnap)); err != nil {
		t.Errorf("restored from the group's automatic snapshot: %v", err)
	}
	if _, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("autogrp")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the group's automatic snapshot deleted with it", func() error {
		if _, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(groupSnap)}); err == nil {
			return fmt.Errorf("still listed")
		}
		return nil
	})
	if _, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(clusterSnap)}); err != nil {
		t.Errorf("the cluster's automatic snapshot: %v", err)
	}
}
