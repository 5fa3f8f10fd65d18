package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/service"
)

// TestSnapshotRules sends bad snapshot requests and bad restores; each gets its modelled error and changes
// nothing.
func TestSnapshotRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	create := func(in *elasticache.CreateCacheClusterInput) {
		t.Helper()
		if _, err := p.client.CreateCacheCluster(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	create(redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.Engine = aws.String("vk"), aws.String("valkey")
	}))
	create(redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.Engine = aws.String("vk2"), aws.String("valkey")
	}))
	create(redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("busy") }))
	create(memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("mc") }))
	markAvailable(t, p.store, "vk", "vk2", "mc")
	snapshot := func(name, cluster, group string) error {
		in := &elasticache.CreateSnapshotInput{SnapshotName: aws.String(name)}
		if cluster != "" {
			in.CacheClusterId = aws.String(cluster)
		}
		if group != "" {
			in.ReplicationGroupId = aws.String(group)
		}
		_, err := p.client.CreateSnapshot(ctx, in)
		return err
	}
	if err := snapshot("pending", "vk", ""); err != nil {
		t.Fatal(err)
	}
	if got := describeCluster(t, p.client, "vk").CacheClusterStatus; aws.ToString(got) != "snapshotting" {
		t.Errorf("source cluster status while its snapshot is copied = %s, want snapshotting", aws.ToString(got))
	}
	if err := snapshot("ready", "vk2", ""); err != nil {
		t.Fatal(err)
	}
	// As the controller would leave it once the copy is done.
	editRecord(t, p.store, resource.KindSnapshot, func(s *resource.Snapshot) { s.Status = resource.SnapshotAvailable }, "ready")
	editRecord(t, p.store, resource.KindCluster, func(c *resource.Cluster) { c.Snapshotting = "" }, "vk2")
	restore := func(mod func(*elasticache.CreateCacheClusterInput)) func() error {
		return func() error {
			_, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) {
				in.CacheClusterId, in.Engine = aws.String("restored"), aws.String("valkey")
				mod(in)
			}))
			return err
		}
	}
	const badValue, badCombo = "InvalidParameterValue", "InvalidParameterCombination"
	copySnap := func(from, to string, bucket *string) func() error {
		return func() error {
			_, err := p.client.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String(from), TargetSnapshotName: aws.String(to), TargetBucket: bucket})
			return err
		}
	}
	runRules(t, p.store, []rule{
		{"snapshot name taken", func() error { return snapshot("ready", "vk2", "") }, "SnapshotAlreadyExistsFault", 400},
		{"snapshot of a cluster already snapshotting", func() error { return snapshot("x", "vk", "") }, "InvalidCacheClusterState", 400},
		{"snapshot without a source", func() error { return snapshot("x", "", "") }, badCombo, 400},
		{"snapshot of a cluster and a group", func() error { return snapshot("x", "vk", "grp") }, badCombo, 400},
		{"snapshot of an unknown cluster", func() error { return snapshot("x", "nope", "") }, "CacheClusterNotFound", 404},
		{"snapshot of an unknown group", func() error { return snapshot("x", "", "nope") }, "ReplicationGroupNotFoundFault", 404},
		{"snapshot of a Memcached cluster", func() error { return snapshot("x", "mc", "") }, "SnapshotFeatureNotSupportedFault", 400},
		{"snapshot of a cluster still creating", func() error { return snapshot("x", "busy", "") }, "InvalidCacheClusterState", 400},
		{"snapshot with a bad name", func() error { return snapshot("9lives", "vk", "") }, badValue, 400},
		{"describe an unknown snapshot", func() error {
			_, err := p.client.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("nope")})
			return err
		}, "SnapshotNotFoundFault", 404},
		{"describe with MaxRecords 10", func() error {
			_, err := p.client.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{MaxRecords: aws.Int32(10)})
			return err
		}, badValue, 400},
		{"delete an unknown snapshot", func() error {
			_, err := p.client.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("nope")})
			return err
		}, "SnapshotNotFoundFault", 404},
		{"delete a snapshot being created", func() error {
			_, err := p.client.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("pending")})
			return err
		}, "InvalidSnapshotState", 400},
		{"final snapshot under a taken name", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("vk2"), FinalSnapshotIdentifier: aws.String("ready")})
			return err
		}, "SnapshotAlreadyExistsFault", 400},
		{"copy an unknown snapshot", copySnap("nope", "x", nil), "SnapshotNotFoundFault", 404},
		{"copy onto an existing name", copySnap("ready", "pending", nil), "SnapshotAlreadyExistsFault", 400},
		{"copy a snapshot being created", copySnap("pending", "x", nil), "InvalidSnapshotState", 400},
		{"copy to a bad name", copySnap("ready", "x--y", nil), badValue, 400},
		{"copy to a bucket without an object store", copySnap("ready", "x", aws.String("bucket")), badValue, 400},
		{"restore an unknown snapshot", restore(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotName = aws.String("nope") }), "SnapshotNotFoundFault", 404},
		{"restore a snapshot being created", restore(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotName = aws.String("pending") }), "InvalidSnapshotState", 400},
		{"restore Valkey data into Redis OSS", restore(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotName, in.Engine = aws.String("ready"), aws.String("redis")
		}), badCombo, 400},
		{"restore into Memcached", restore(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotName, in.Engine = aws.String("ready"), aws.String("memcached")
		}), badCombo, 400},
		{"restore from a name and an ARN", restore(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotName, in.SnapshotArns = aws.String("ready"), []string{"arn:aws:s3:::b/k.rdb"}
		}), badCombo, 400},
		{"restore from S3 without an object store", restore(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotArns = []string{"arn:aws:s3:::b/k.rdb"}
		}), badValue, 400},
		{"restore from a malformed S3 ARN", restore(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotArns = []string{"arn:aws:s3:::bucket-only"}
		}), badValue, 400},
		// No other call on a cluster while its snapshot is copied.
		{"modify a cluster while snapshotting", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("vk"), SnapshotRetentionLimit: aws.Int32(3)})
			return err
		}, "InvalidCacheClusterState", 400},
		{"reboot a cluster while snapshotting", func() error {
			_, err := p.client.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("vk"), CacheNodeIdsToReboot: []string{"0001"}})
			return err
		}, "InvalidCacheClusterState", 400},
		{"delete a cluster while snapshotting", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("vk")})
			return err
		}, "InvalidCacheClusterState", 400},
	})
	// Snapshots carry tags like every other resource, by ARN.
	arn := "arn:aws:elasticache:us-east-1:123456789012:snapshot:ready"
	if _, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{ResourceName: aws.String(arn), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("cache")}}}); err != nil {
		t.Fatalf("tag a snapshot: %v", err)
	}
	tags, err := p.client.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String(arn)})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "cache" {
		t.Errorf("snapshot tags: %+v, %v", tags, err)
	}
}
