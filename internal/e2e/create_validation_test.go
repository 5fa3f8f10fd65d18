package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/service"
)

// redisReq is a valid single-node Redis request that rows modify.
func redisReq(mod func(*elasticache.CreateCacheClusterInput)) *elasticache.CreateCacheClusterInput {
	in := &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("bad"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	}
	if mod != nil {
		mod(in)
	}
	return in
}

func memcachedReq(mod func(*elasticache.CreateCacheClusterInput)) *elasticache.CreateCacheClusterInput {
	return redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.Engine = aws.String("memcached")
		if mod != nil {
			mod(in)
		}
	})
}

func manyTags(n int) []types.Tag {
	tags := make([]types.Tag, n)
	for i := range tags {
		tags[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	return tags
}

// TestCreateCacheClusterRejects sends every constraint and exception of the CreateCacheCluster reference
// as a bad request and checks the modelled error, its HTTP status, and that nothing was created.
func TestCreateCacheClusterRejects(t *testing.T) {
	type row struct {
		name       string
		in         *elasticache.CreateCacheClusterInput
		quotas     func(*service.Quotas)
		ports      int // size of the node port range (default 100)
		wantCode   string
		wantStatus int
	}
	const (
		badValue = "InvalidParameterValue"
		badCombo = "InvalidParameterCombination"
	)
	rows := []row{
		// CacheClusterId: 1-50 letters, digits, hyphens; first a letter; no trailing or double hyphen.
		{name: "id missing", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = nil }), wantCode: "MissingParameter", wantStatus: 400},
		{name: "id starts with digit", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("1abc") }), wantCode: badValue, wantStatus: 400},
		{name: "id ends with hyphen", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("abc-") }), wantCode: badValue, wantStatus: 400},
		{name: "id double hyphen", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("a--b") }), wantCode: badValue, wantStatus: 400},
		{name: "id underscore", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("a_b") }), wantCode: badValue, wantStatus: 400},
		{name: "id 51 characters", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.CacheClusterId = aws.String("a" + strings.Repeat("b", 50))
		}), wantCode: badValue, wantStatus: 400},
		{name: "id already exists", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("Existing") }), wantCode: "CacheClusterAlreadyExists", wantStatus: 400},
		// Engine and version.
		{name: "engine missing", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.Engine = nil }), wantCode: badValue, wantStatus: 400},
		{name: "engine unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.Engine = aws.String("mongodb") }), wantCode: badValue, wantStatus: 400},
		{name: "engine version not runnable", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.EngineVersion = aws.String("2.8.24") }), wantCode: badValue, wantStatus: 400},
		// Node type.
		{name: "node type missing", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = nil }), wantCode: badValue, wantStatus: 400},
		{name: "node type unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = aws.String("cache.r3.larage") }), wantCode: badValue, wantStatus: 400},
		{name: "node type previous generation", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = aws.String("cache.m1.small") }), wantCode: badValue, wantStatus: 400},
		// NumCacheNodes: 1 for Redis/Valkey, 1-40 for Memcached.
		{name: "redis two nodes", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(2) }), wantCode: badValue, wantStatus: 400},
		{name: "valkey zero nodes", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.Engine = aws.String("valkey")
			in.NumCacheNodes = aws.Int32(0)
		}), wantCode: badValue, wantStatus: 400},
		{name: "memcached zero nodes", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(0) }), wantCode: badValue, wantStatus: 400},
		{name: "memcached 41 nodes", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(41) }), wantCode: "NodeQuotaForClusterExceeded", wantStatus: 400},
		// Availability Zones.
		{name: "AZ list length differs from node count", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
			in.NumCacheNodes = aws.Int32(3)
			in.PreferredAvailabilityZones = []string{"us-east-1a", "us-east-1b"}
		}), wantCode: badValue, wantStatus: 400},
		{name: "AZMode for redis", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.AZMode = types.AZModeCrossAz }), wantCode: badCombo, wantStatus: 400},
		{name: "AZ list for redis", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.PreferredAvailabilityZones = []string{"us-east-1a"} }), wantCode: badCombo, wantStatus: 400},
		{name: "AZMode not an enum value", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.AZMode = "everywhere" }), wantCode: badValue, wantStatus: 400},
		{name: "AZ of another region", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.PreferredAvailabilityZone = aws.String("eu-west-1a") }), wantCode: badValue, wantStatus: 400},
		{name: "cross-az with one node", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.AZMode = types.AZModeCrossAz }), wantCode: badValue, wantStatus: 400},
		{name: "AZ and AZ list together", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredAvailabilityZone = aws.String("us-east-1a")
			in.PreferredAvailabilityZones = []string{"us-east-1a"}
		}), wantCode: badCombo, wantStatus: 400},
		// AuthToken: only with in-transit encryption; 16-128 printable characters, specials ! & # $ ^ < > -.
		{name: "auth token without transit encryption", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.AuthToken = aws.String("0123456789abcdefgh") }), wantCode: badValue, wantStatus: 400},
		{name: "auth token too short", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.AuthToken, in.TransitEncryptionEnabled = aws.String("short"), aws.Bool(true)
		}), wantCode: badValue, wantStatus: 400},
		{name: "auth token bad character", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.AuthToken, in.TransitEncryptionEnabled = aws.String("0123456789abcdef@gh"), aws.Bool(true)
		}), wantCode: badValue, wantStatus: 400},
		{name: "auth token too long", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.AuthToken, in.TransitEncryptionEnabled = aws.String(strings.Repeat("a", 129)), aws.Bool(true)
		}), wantCode: badValue, wantStatus: 400},
		{name: "auth token for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.AuthToken = aws.String("0123456789abcdefgh") }), wantCode: badCombo, wantStatus: 400},
		// Snapshot parameters are Redis/Valkey only.
		{name: "snapshot retention for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotRetentionLimit = aws.Int32(1) }), wantCode: badCombo, wantStatus: 400},
		{name: "snapshot window for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotWindow = aws.String("05:00-06:00") }), wantCode: badCombo, wantStatus: 400},
		{name: "snapshot name for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotName = aws.String("s") }), wantCode: badCombo, wantStatus: 400},
		{name: "snapshot ARNs for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotArns = []string{"arn:aws:s3:::b/k.rdb"} }), wantCode: badCombo, wantStatus: 400},
		{name: "snapshot retention 36 days", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotRetentionLimit = aws.Int32(36) }), wantCode: badValue, wantStatus: 400},
		{name: "snapshot window format", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotWindow = aws.String("5am-6am") }), wantCode: badValue, wantStatus: 400},
		{name: "snapshot window 30 minutes", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotWindow = aws.String("05:00-05:30") }), wantCode: badValue, wantStatus: 400},
		{name: "snapshot window overlaps maintenance", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow, in.SnapshotWindow = aws.String("sun:05:00-sun:06:00"), aws.String("05:30-06:30")
		}), wantCode: badCombo, wantStatus: 400},
		{name: "snapshot name unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotName = aws.String("nope") }), wantCode: "SnapshotNotFoundFault", wantStatus: 404},
		{name: "snapshot ARN not S3", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotArns = []string{"arn:aws:sqs:::b/k.rdb"} }), wantCode: badValue, wantStatus: 400},
		{name: "snapshot ARN with comma", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SnapshotArns = []string{"arn:aws:s3:::b/a,b.rdb"} }), wantCode: badValue, wantStatus: 400},
		{name: "two snapshot ARNs", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.SnapshotArns = []string{"arn:aws:s3:::b/1.rdb", "arn:aws:s3:::b/2.rdb"}
		}), wantCode: badValue, wantStatus: 400},
		// Maintenance window: ddd:hh24:mi-ddd:hh24:mi, at least 60 minutes.
		{name: "maintenance window format", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow = aws.String("sunday 5am")
		}), wantCode: badValue, wantStatus: 400},
		{name: "maintenance window bad day", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow = aws.String("sun:05:00-xyz:06:00")
		}), wantCode: badValue, wantStatus: 400},
		{name: "maintenance window 59 minutes", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow = aws.String("sun:05:00-sun:05:59")
		}), wantCode: badValue, wantStatus: 400},
		{name: "maintenance window over a day", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.PreferredMaintenanceWindow = aws.String("sun:05:00-mon:06:00")
		}), wantCode: badValue, wantStatus: 400},
		// Tags: at most 50; keys up to 128 characters, values up to 256, no aws: prefix.
		{name: "51 tags", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.Tags = manyTags(51) }), wantCode: "TagQuotaPerResourceExceeded", wantStatus: 400},
		{name: "tag key aws:", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.Tags = []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}
		}), wantCode: badValue, wantStatus: 400},
		{name: "tag key 129 characters", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.Tags = []types.Tag{{Key: aws.String(strings.Repeat("k", 129))}}
		}), wantCode: badValue, wantStatus: 400},
		{name: "tag value 257 characters", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.Tags = []types.Tag{{Key: aws.String("k"), Value: aws.String(strings.Repeat("v", 257))}}
		}), wantCode: badValue, wantStatus: 400},
		// Groups.
		{name: "parameter group unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheParameterGroupName = aws.String("nope") }), wantCode: "CacheParameterGroupNotFound", wantStatus: 404},
		{name: "parameter group of another family", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.CacheParameterGroupName = aws.String("default.memcached1.6")
		}), wantCode: badCombo, wantStatus: 400},
		{name: "parameter group with cluster-enabled yes", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.EngineVersion, in.CacheParameterGroupName = aws.String("7.0"), aws.String("default.redis7.cluster.on")
		}), wantCode: badCombo, wantStatus: 400},
		{name: "subnet group unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheSubnetGroupName = aws.String("nope") }), wantCode: "CacheSubnetGroupNotFoundFault", wantStatus: 400},
		{name: "security group unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheSecurityGroupNames = []string{"nope"} }), wantCode: "CacheSecurityGroupNotFound", wantStatus: 404},
		{name: "security groups inside a VPC", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.CacheSecurityGroupNames, in.CacheSubnetGroupName = []string{"default"}, aws.String("default")
		}), wantCode: badCombo, wantStatus: 400},
		{name: "VPC security group id malformed", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.SecurityGroupIds = []string{"web"} }), wantCode: badValue, wantStatus: 400},
		// Replication group membership.
		{name: "replication group unknown", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.ReplicationGroupId = aws.String("nope") }), wantCode: "ReplicationGroupNotFoundFault", wantStatus: 404},
		{name: "replication group with memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.ReplicationGroupId = aws.String("rg") }), wantCode: badCombo, wantStatus: 400},
		// Other parameters.
		{name: "port out of range", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.Port = aws.Int32(70000) }), wantCode: badValue, wantStatus: 400},
		{name: "notification topic not an SNS ARN", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.NotificationTopicArn = aws.String("topic") }), wantCode: badValue, wantStatus: 400},
		{name: "network type ipv6 on a node type not built on Nitro", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.NetworkType, in.CacheNodeType = types.NetworkTypeIpv6, aws.String("cache.m4.large")
		}), wantCode: badCombo, wantStatus: 400},
		{name: "log delivery without destination", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.LogDeliveryConfigurations = []types.LogDeliveryConfigurationRequest{{LogType: types.LogTypeSlowLog, DestinationType: types.DestinationTypeCloudWatchLogs, LogFormat: types.LogFormatJson}}
		}), wantCode: badValue, wantStatus: 400},
		{name: "log delivery twice for one type", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			ld := types.LogDeliveryConfigurationRequest{LogType: types.LogTypeSlowLog, DestinationType: types.DestinationTypeCloudWatchLogs, LogFormat: types.LogFormatJson,
				DestinationDetails: &types.DestinationDetails{CloudWatchLogsDetails: &types.CloudWatchLogsDestinationDetails{LogGroup: aws.String("g")}}}
			in.LogDeliveryConfigurations = []types.LogDeliveryConfigurationRequest{ld, ld}
		}), wantCode: badValue, wantStatus: 400},
		{name: "log delivery for memcached", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
			in.LogDeliveryConfigurations = []types.LogDeliveryConfigurationRequest{{LogType: types.LogTypeSlowLog}}
		}), wantCode: badCombo, wantStatus: 400},
		{name: "outpost ARN malformed", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.PreferredOutpostArn = aws.String("outpost") }), wantCode: badValue, wantStatus: 400},
		{name: "outpost mode without an outpost", in: redisReq(func(in *elasticache.CreateCacheClusterInput) { in.OutpostMode = types.OutpostModeSingleOutpost }), wantCode: badCombo, wantStatus: 400},
		{name: "single-az across two zones", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
			in.AZMode, in.NumCacheNodes, in.PreferredAvailabilityZones = types.AZModeSingleAz, aws.Int32(2), []string{"us-east-1a", "us-east-1b"}
		}), wantCode: badCombo, wantStatus: 400},
		{name: "SNS topic of another account", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.NotificationTopicArn = aws.String("arn:aws:sns:us-east-1:999999999999:alerts")
		}), wantCode: badValue, wantStatus: 400},
		{name: "SNS topic ARN malformed", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.NotificationTopicArn = aws.String("arn:aws:sqs:us-east-1:123456789012:alerts")
		}), wantCode: badValue, wantStatus: 400},
		{name: "duplicate tag keys", in: redisReq(func(in *elasticache.CreateCacheClusterInput) {
			in.Tags = []types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}
		}), wantCode: badValue, wantStatus: 400},
		// Quotas (configurable).
		{name: "cluster quota", in: redisReq(nil), quotas: func(q *service.Quotas) { q.ClustersPerRegion = 1 }, wantCode: "ClusterQuotaForCustomerExceeded", wantStatus: 400},
		{name: "node quota per region", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(3) }),
			quotas: func(q *service.Quotas) { q.NodesPerRegion = 3 }, wantCode: "NodeQuotaForCustomerExceeded", wantStatus: 400},
		{name: "node quota per cluster", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(5) }),
			quotas: func(q *service.Quotas) { q.NodesPerCluster = 4 }, wantCode: "NodeQuotaForClusterExceeded", wantStatus: 400},
		{name: "no node ports left", in: memcachedReq(func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(2) }),
			ports: 3, wantCode: "InsufficientCacheClusterCapacity", wantStatus: 400},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			q := service.DefaultQuotas()
			if r.quotas != nil {
				r.quotas(&q)
			}
			ports := r.ports
			if ports == 0 {
				ports = 100
			}
			p := newInProcess(t, q, 29100, 29100+ports-1)
			ctx := context.Background()
			// One existing cluster, so duplicates and quotas have something to count.
			if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("existing") })); err != nil {
				t.Fatalf("creating the existing cluster: %v", err)
			}
			before, err := p.store.Revision(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.client.CreateCacheCluster(ctx, r.in)
			if err == nil {
				t.Fatalf("request succeeded, want %s", r.wantCode)
			}
			code, status := apiError(t, err)
			if code != r.wantCode || status != r.wantStatus {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d): %v", code, status, r.wantCode, r.wantStatus, err)
			}
			after, _ := p.store.Revision(ctx)
			if after != before {
				t.Errorf("store revision moved from %d to %d: the rejected request wrote something", before, after)
			}
			out, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.CacheClusters) != 1 {
				t.Errorf("%d clusters exist after the rejected request, want 1", len(out.CacheClusters))
			}
		})
	}
}

// Nodes go only to the Availability Zones of their subnet group's subnets: a zone outside them is refused
// and creates nothing, and without a zone the node lands in one of them (cache clusters and replication
// group members alike).
func TestSubnetGroupZonesAreEnforced(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	sg, err := p.client.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{CacheSubnetGroupName: aws.String("two"),
		CacheSubnetGroupDescription: aws.String("two subnets"), SubnetIds: []string{"subnet-0a1b2c3d", "subnet-1234abcd"}})
	if err != nil {
		t.Fatal(err)
	}
	var zones []string
	for _, sn := range sg.CacheSubnetGroup.Subnets {
		zones = append(zones, aws.ToString(sn.SubnetAvailabilityZone.Name))
	}
	var outside string
	for _, l := range "abcdef" {
		if z := "us-east-1" + string(l); !contains(zones, z) {
			outside = z
			break
		}
	}
	_, err = p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.CacheSubnetGroupName, in.PreferredAvailabilityZone = aws.String("outside"), aws.String("two"), aws.String(outside)
	}))
	if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 {
		t.Errorf("a zone without a subnet of the group (%s, subnets in %v): %v, want InvalidParameterValue", outside, zones, err)
	}
	if _, err := p.client.CreateCacheCluster(ctx, memcachedReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.CacheSubnetGroupName, in.NumCacheNodes, in.AZMode = aws.String("inside"), aws.String("two"), aws.Int32(3), types.AZModeCrossAz
	})); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "inside")
	if _, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("inside"),
		NumCacheNodes: aws.Int32(5), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	// NewAvailabilityZones: one zone of the group per node added.
	markAvailable(t, p.store, "inside")
	for _, bad := range [][]string{{zones[0]}, {zones[0], outside}} {
		_, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("inside"),
			NumCacheNodes: aws.Int32(7), NewAvailabilityZones: bad, ApplyImmediately: aws.Bool(true)})
		if code, _ := apiError(t, err); code != "InvalidParameterCombination" && code != "InvalidParameterValue" {
			t.Errorf("NewAvailabilityZones %v for 2 new nodes: %v, want a refusal", bad, err)
		}
	}
	last := zones[len(zones)-1]
	if _, err := p.client.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("inside"),
		NumCacheNodes: aws.Int32(7), NewAvailabilityZones: []string{last, last}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	nodes := describeCluster(t, p.client, "inside").CacheNodes
	if len(nodes) != 7 || aws.ToString(nodes[5].CustomerAvailabilityZone) != last || aws.ToString(nodes[6].CustomerAvailabilityZone) != last {
		t.Errorf("nodes after adding two in %s: %d nodes, the new ones in %s and %s", last, len(nodes),
			aws.ToString(nodes[len(nodes)-2].CustomerAvailabilityZone), aws.ToString(nodes[len(nodes)-1].CustomerAvailabilityZone))
	}
	for _, n := range nodes { // the three created, the two added, the two placed
		if z := aws.ToString(n.CustomerAvailabilityZone); !contains(zones, z) {
			t.Errorf("node %s placed in %s, outside the group's zones %v", aws.ToString(n.CacheNodeId), z, zones)
		}
	}
	_, err = p.client.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheSubnetGroupName: aws.String("two"), PreferredCacheClusterAZs: []string{zones[0], outside}, NumCacheClusters: aws.Int32(2)})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Errorf("a member in a zone without a subnet of the group: %v, want InvalidParameterValue", err)
	}
	if _, err := p.client.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheSubnetGroupName: aws.String("two"), NumCacheClusters: aws.Int32(2), MultiAZEnabled: aws.Bool(true), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	members, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range members.CacheClusters {
		if c.ReplicationGroupId != nil && !contains(zones, aws.ToString(c.PreferredAvailabilityZone)) {
			t.Errorf("member %s in %s, outside the group's zones %v", aws.ToString(c.CacheClusterId), aws.ToString(c.PreferredAvailabilityZone), zones)
		}
	}
	if objs, err := p.store.List(ctx, "replication-group"); err != nil || len(objs) != 1 {
		t.Errorf("replication groups stored: %d (%v), want the one that was accepted", len(objs), err)
	}
}
