package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/service"
	"github.com/ecache/ecache/internal/store"
)

// editRecord changes the stored records of kind named by ids (in us-east-1) with fn, in one transaction.
func editRecord[T any](t *testing.T, st store.Store, kind string, fn func(*T), ids ...string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, id := range ids {
			obj, err := tx.Get(kind, resource.Key("us-east-1", id))
			if err != nil {
				return err
			}
			v, err := resource.Unmarshal[T](obj.Value)
			if err != nil {
				return err
			}
			fn(v)
			if _, err := tx.Put(kind, obj.Key, resource.Marshal(v), obj.Revision); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// markAvailable plays the controller's part for clusters whose id is listed.
func markAvailable(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	editRecord(t, st, resource.KindCluster, func(c *resource.Cluster) {
		c.Status = resource.StatusAvailable
		for i := range c.Nodes {
			c.Nodes[i].Status = resource.NodeAvailable
		}
	}, ids...)
}

// TestClusterOperationRules sends bad requests to the other cluster operations and checks the modelled
// error, its HTTP status, and that nothing changed.
func TestClusterOperationRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	for _, in := range []*elasticache.CreateCacheClusterInput{
		redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.CacheClusterId = aws.String("r71")
			in.EngineVersion = aws.String("7.1")
		}),
		memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
			in.CacheClusterId = aws.String("mc")
			in.NumCacheNodes = aws.Int32(3)
		}),
		redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("busy") }),
	} {
		if _, err := p.client.CreateCacheCluster(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	markAvailable(t, p.store, "r71", "mc")
	arn := "arn:aws:elasticache:us-east-1:123456789012:cluster:"
	if _, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{ResourceName: aws.String(arn + "r71"), Tags: manyTags(49)}); err != nil {
		t.Fatal(err)
	}

	rows := []rule{
		{"describe unknown", func() error {
			_, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("nope")})
			return err
		}, "CacheClusterNotFound", 404},
		{"describe MaxRecords 10", func() error {
			_, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{MaxRecords: aws.Int32(10)})
			return err
		}, "InvalidParameterValue", 400},
		{"modify unknown", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("nope"), AutoMinorVersionUpgrade: aws.Bool(false)})
			return err
		}, "CacheClusterNotFound", 404},
		{"modify while creating", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("busy"), AutoMinorVersionUpgrade: aws.Bool(false)})
			return err
		}, "InvalidCacheClusterState", 400},
		{"modify redis to two nodes", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), NumCacheNodes: aws.Int32(2)})
			return err
		}, "InvalidParameterValue", 400},
		{"scale in without node ids", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(2)})
			return err
		}, "InvalidParameterCombination", 400},
		{"scale in naming a missing node", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(2), CacheNodeIdsToRemove: []string{"0009"}})
			return err
		}, "InvalidParameterValue", 400},
		{"node ids to remove when scaling out", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(4), CacheNodeIdsToRemove: []string{"0001"}})
			return err
		}, "InvalidParameterCombination", 400},
		{"scale out past 40 nodes", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), NumCacheNodes: aws.Int32(41)})
			return err
		}, "NodeQuotaForClusterExceeded", 400},
		{"engine downgrade", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), EngineVersion: aws.String("7.0")})
			return err
		}, "InvalidParameterCombination", 400},
		{"engine version unknown", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), EngineVersion: aws.String("9.9")})
			return err
		}, "InvalidParameterValue", 400},
		{"memcached node type change", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), CacheNodeType: aws.String("cache.m5.large")})
			return err
		}, "InvalidParameterCombination", 400},
		{"redis node type not allowed", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), CacheNodeType: aws.String("cache.m1.small")})
			return err
		}, "InvalidParameterCombination", 400},
		{"maintenance window malformed", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), PreferredMaintenanceWindow: aws.String("mon")})
			return err
		}, "InvalidParameterValue", 400},
		{"parameter group unknown", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), CacheParameterGroupName: aws.String("nope")})
			return err
		}, "CacheParameterGroupNotFound", 404},
		{"parameter group of another family", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("r71"), CacheParameterGroupName: aws.String("default.memcached1.6")})
			return err
		}, "InvalidParameterCombination", 400},
		{"snapshot window for memcached", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mc"), SnapshotWindow: aws.String("01:00-02:00")})
			return err
		}, "InvalidParameterCombination", 400},
		{"delete unknown", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("nope")})
			return err
		}, "CacheClusterNotFound", 404},
		{"delete while creating", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("busy")})
			return err
		}, "InvalidCacheClusterState", 400},
		{"final snapshot of memcached", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("mc"), FinalSnapshotIdentifier: aws.String("last")})
			return err
		}, "InvalidParameterCombination", 400},
		{"reboot without node ids", func() error {
			_, err := p.client.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("mc")})
			return err
		}, "MissingParameter", 400},
		{"reboot a missing node", func() error {
			_, err := p.client.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("mc"), CacheNodeIdsToReboot: []string{"0001", "0007"}})
			return err
		}, "InvalidParameterValue", 400},
		{"reboot while creating", func() error {
			_, err := p.client.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("busy"), CacheNodeIdsToReboot: []string{"0001"}})
			return err
		}, "InvalidCacheClusterState", 400},
		{"tag a malformed ARN", func() error {
			_, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{ResourceName: aws.String("cluster:r71"), Tags: manyTags(1)})
			return err
		}, "InvalidARN", 400},
		{"tag a missing cluster", func() error {
			_, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{ResourceName: aws.String(arn + "nope"), Tags: manyTags(1)})
			return err
		}, "CacheClusterNotFound", 404},
		{"tag past 50", func() error {
			tags := []types.Tag{{Key: aws.String("x1"), Value: aws.String("1")}, {Key: aws.String("x2"), Value: aws.String("2")}}
			_, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{ResourceName: aws.String(arn + "r71"), Tags: tags})
			return err
		}, "TagQuotaPerResourceExceeded", 400},
		{"remove a tag that is not there", func() error {
			_, err := p.client.RemoveTagsFromResource(ctx, &elasticache.RemoveTagsFromResourceInput{ResourceName: aws.String(arn + "r71"), TagKeys: []string{"k0", "absent"}})
			return err
		}, "TagNotFound", 404},
		{"tag a default parameter group", func() error {
			_, err := p.client.AddTagsToResource(ctx, &elasticache.AddTagsToResourceInput{
				ResourceName: aws.String("arn:aws:elasticache:us-east-1:123456789012:parametergroup:default.redis7"), Tags: manyTags(1)})
			return err
		}, "InvalidParameterValue", 400},
		{"events over 14 days", func() error {
			_, err := p.client.DescribeEvents(ctx, &elasticache.DescribeEventsInput{Duration: aws.Int32(20200)})
			return err
		}, "InvalidParameterValue", 400},
		{"allowed node types without an id", func() error {
			_, err := p.client.ListAllowedNodeTypeModifications(ctx, &elasticache.ListAllowedNodeTypeModificationsInput{})
			return err
		}, "InvalidParameterCombination", 400},
	}
	runRules(t, p.store, rows)

	// The rejected tag requests left the 49 tags as they were.
	tags, err := p.client.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String(arn + "r71")})
	if err != nil || len(tags.TagList) != 49 {
		t.Errorf("tags after rejected changes: %d (%v), want 49", len(tags.TagList), err)
	}
	for _, tg := range tags.TagList {
		if strings.HasPrefix(aws.ToString(tg.Key), "x") {
			t.Errorf("tag %s was added by a rejected request", aws.ToString(tg.Key))
		}
	}
}
