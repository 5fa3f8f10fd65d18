package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/service"
)

func rgReq(mod func(*elasticache.CreateReplicationGroupInput)) *elasticache.CreateReplicationGroupInput {
	in := &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("bad"), ReplicationGroupDescription: aws.String("d"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
	}
	if mod != nil {
		mod(in)
	}
	return in
}

// TestReplicationGroupRules sends bad CreateReplicationGroup/DeleteReplicationGroup requests and bad
// requests against member clusters; each gets its modelled error and changes nothing.
func TestReplicationGroupRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	if _, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("existing") })); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("busy") })); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "existing-001", "existing-002")
	const badValue, badCombo = "InvalidParameterValue", "InvalidParameterCombination"
	rows := []rule{
		{"id with underscore", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("a_b") }))
			return err
		}, badValue, 400},
		{"id 41 characters", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
				in.ReplicationGroupId = aws.String("a" + strings.Repeat("b", 40))
			}))
			return err
		}, badValue, 400},
		{"id exists", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("Existing") }))
			return err
		}, "ReplicationGroupAlreadyExists", 400},
		{"description blank", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupDescription = aws.String(" ") }))
			return err
		}, badValue, 400},
		{"memcached", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.Engine = aws.String("memcached") }))
			return err
		}, badValue, 400},
		{"seven cache clusters", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.NumCacheClusters = aws.Int32(7) }))
			return err
		}, badValue, 400},
		{"automatic failover with one node", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.NumCacheClusters = aws.Int32(1) }))
			return err
		}, badCombo, 400},
		{"multi-AZ without automatic failover", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
				in.AutomaticFailoverEnabled, in.MultiAZEnabled = aws.Bool(false), aws.Bool(true)
			}))
			return err
		}, badCombo, 400},
		{"six replicas per node group", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
				in.NumCacheClusters, in.ReplicasPerNodeGroup = nil, aws.Int32(6)
			}))
			return err
		}, badValue, 400},
		{"AZ list of the wrong length", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
				in.PreferredCacheClusterAZs = []string{"us-east-1a"}
			}))
			return err
		}, badValue, 400},
		{"durability sync", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.Durability = types.DurabilitySync }))
			return err
		}, badCombo, 400},
		{"durability not an enum value", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.Durability = "forever" }))
			return err
		}, badValue, 400},
		{"auth token without transit encryption", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.AuthToken = aws.String("0123456789abcdefgh") }))
			return err
		}, badValue, 400},
		{"primary cluster unknown", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.PrimaryClusterId = aws.String("nope") }))
			return err
		}, "CacheClusterNotFound", 404},
		{"primary cluster not available", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.PrimaryClusterId = aws.String("busy") }))
			return err
		}, "InvalidCacheClusterState", 400},
		{"parameter group unknown", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.CacheParameterGroupName = aws.String("nope") }))
			return err
		}, "CacheParameterGroupNotFound", 404},
		{"maintenance window malformed", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
				in.PreferredMaintenanceWindow = aws.String("sometime")
			}))
			return err
		}, badValue, 400},
		{"51 tags", func() error {
			_, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.Tags = manyTags(51) }))
			return err
		}, "TagQuotaPerResourceExceeded", 400},
		{"describe unknown", func() error {
			_, err := p.client.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("nope")})
			return err
		}, "ReplicationGroupNotFoundFault", 404},
		{"delete unknown", func() error {
			_, err := p.client.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("nope")})
			return err
		}, "ReplicationGroupNotFoundFault", 404},
		{"delete while creating", func() error {
			_, err := p.client.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("existing")})
			return err
		}, "InvalidReplicationGroupState", 400},
		{"delete a member cluster", func() error {
			_, err := p.client.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("existing-002")})
			return err
		}, "InvalidCacheClusterState", 400},
		{"modify a member cluster", func() error {
			_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("existing-002"), AutoMinorVersionUpgrade: aws.Bool(false)})
			return err
		}, "InvalidCacheClusterState", 400},
		{"reboot the primary member", func() error {
			_, err := p.client.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("existing-001"), CacheNodeIdsToReboot: []string{"0001"}})
			return err
		}, "InvalidCacheClusterState", 400},
	}
	runRules(t, p.store, rows)
	out, err := p.client.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil || len(out.ReplicationGroups) != 1 {
		t.Errorf("replication groups after the rejected requests: %v (%v), want only existing", out, err)
	}
}
