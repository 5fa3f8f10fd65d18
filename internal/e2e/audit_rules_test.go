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

// The smaller differences the audit of the replication-group and snapshot operations found: each row is
// what ElastiCache answers.
func TestAuditedReplicationGroupAndSnapshotRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	topic := "arn:aws:sns:us-east-1:123456789012:alerts"
	slowLog := types.LogDeliveryConfigurationRequest{LogType: types.LogTypeSlowLog, DestinationType: types.DestinationTypeCloudWatchLogs,
		LogFormat: types.LogFormatJson, DestinationDetails: &types.DestinationDetails{CloudWatchLogsDetails: &types.CloudWatchLogsDestinationDetails{LogGroup: aws.String("lg")}}}
	out, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), SnapshotRetentionLimit: aws.Int32(3), MultiAZEnabled: aws.Bool(true), AutomaticFailoverEnabled: aws.Bool(true),
		NotificationTopicArn: aws.String(topic), LogDeliveryConfigurations: []types.LogDeliveryConfigurationRequest{slowLog}})
	if err != nil {
		t.Fatal(err)
	}
	// The topic and the log delivery configuration are kept: on the group and on every member.
	if l := out.ReplicationGroup.LogDeliveryConfigurations; len(l) != 1 || l[0].LogType != types.LogTypeSlowLog {
		t.Errorf("group LogDeliveryConfigurations = %+v, want the slow log", l)
	}
	for _, id := range out.ReplicationGroup.MemberClusters {
		m := describeCluster(t, c, id)
		if m.NotificationConfiguration == nil || aws.ToString(m.NotificationConfiguration.TopicArn) != topic || len(m.LogDeliveryConfigurations) != 1 {
			t.Errorf("member %s: notification %+v, log delivery %+v", id, m.NotificationConfiguration, m.LogDeliveryConfigurations)
		}
	}
	// A replica's node names the primary node it replicates from; the primary's names none.
	if n := describeCluster(t, c, "g-002").CacheNodes; len(n) != 1 || aws.ToString(n[0].SourceCacheNodeId) != "0001" {
		t.Errorf("replica g-002 nodes %+v, want SourceCacheNodeId 0001", n)
	}
	if n := describeCluster(t, c, "g-001").CacheNodes; len(n) != 1 || n[0].SourceCacheNodeId != nil {
		t.Errorf("primary g-001 nodes %+v, want no SourceCacheNodeId", n)
	}
	// Automatic snapshots are taken from a replica: the group says which.
	if got := aws.ToString(out.ReplicationGroup.SnapshottingClusterId); got != "g-002" {
		t.Errorf("SnapshottingClusterId = %q, want g-002 (the replica automatic snapshots come from)", got)
	}
	markGroupAvailable(t, p.store, "g")
	markAvailable(t, p.store, "g-001", "g-002")
	for _, r := range []struct {
		name string
		call func() error
		code string
	}{
		{"a Marker no call returned", func() error {
			_, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{Marker: aws.String("bogus")})
			return err
		}, "InvalidParameterValue"},
		{"a Marker no call returned, clusters", func() error {
			_, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{Marker: aws.String("g-001")})
			return err
		}, "InvalidParameterValue"},
		{"snapshots of a cluster that does not exist", func() error {
			_, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{CacheClusterId: aws.String("nope")})
			return err
		}, "CacheClusterNotFound"},
		{"ModifyReplicationGroup: a security group id that is not one", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), SecurityGroupIds: []string{"bogus"}})
			return err
		}, "InvalidParameterValue"},
		{"ModifyReplicationGroup: a topic that is not an SNS ARN", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), NotificationTopicArn: aws.String("bogus")})
			return err
		}, "InvalidParameterValue"},
		{"ModifyReplicationGroup: a snapshot window over the maintenance window", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
				PreferredMaintenanceWindow: aws.String("sun:05:00-sun:06:00"), SnapshotWindow: aws.String("05:30-06:30")})
			return err
		}, "InvalidParameterCombination"},
		{"ModifyReplicationGroup: cache security groups in a VPC", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), CacheSecurityGroupNames: []string{"nope"}})
			return err
		}, "InvalidParameterCombination"},
		{"ModifyReplicationGroup: removing a user group that does not exist", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), UserGroupIdsToRemove: []string{"nope"}})
			return err
		}, "UserGroupNotFound"},
		{"ModifyReplicationGroup: IPv6 discovery on an IPv4 group", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), IpDiscovery: types.IpDiscoveryIpv6})
			return err
		}, "InvalidParameterCombination"},
		{"a data tiering node type for a cache cluster", func() error {
			_, err := c.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = aws.String("cache.r6gd.xlarge") }))
			return err
		}, "InvalidParameterCombination"},
		{"a data tiering node type without DataTieringEnabled", func() error {
			_, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("dt"),
				ReplicationGroupDescription: aws.String("dt"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.r6gd.xlarge")})
			return err
		}, "InvalidParameterCombination"},
		{"data tiering, which this host cannot do", func() error {
			_, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("dt"),
				ReplicationGroupDescription: aws.String("dt"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.r6gd.xlarge"),
				DataTieringEnabled: aws.Bool(true)})
			return err
		}, "InvalidParameterCombination"},
		{"a node group id that is not one", func() error {
			_, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("h"),
				ReplicationGroupDescription: aws.String("h"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
				NodeGroupConfiguration: []types.NodeGroupConfiguration{{NodeGroupId: aws.String("abcde"), ReplicaCount: aws.Int32(1)}}})
			return err
		}, "InvalidParameterValue"},
	} {
		err := r.call()
		if err == nil {
			t.Errorf("%s: accepted, want %s", r.name, r.code)
			continue
		}
		if code, _ := apiError(t, err); code != r.code {
			t.Errorf("%s: %s, want %s", r.name, code, r.code)
		}
	}
	// A snapshot of the group says where its nodes are and which network they are in.
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("g"), SnapshotName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	snaps, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("s"), ShowNodeGroupConfig: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := c.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{CacheSubnetGroupName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	snap := snaps.Snapshots[0]
	if aws.ToString(snap.VpcId) != aws.ToString(sg.CacheSubnetGroups[0].VpcId) {
		t.Errorf("snapshot VpcId %q, the subnet group's %q", aws.ToString(snap.VpcId), aws.ToString(sg.CacheSubnetGroups[0].VpcId))
	}
	groups, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("g")})
	if err != nil {
		t.Fatal(err)
	}
	if primary := groups.ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint; primary == nil || aws.ToInt32(snap.Port) != aws.ToInt32(primary.Port) {
		t.Errorf("snapshot Port %d, want the group's primary endpoint port (%+v)", aws.ToInt32(snap.Port), primary)
	}
	ngc := snap.NodeSnapshots[0].NodeGroupConfiguration
	if ngc == nil || aws.ToString(ngc.PrimaryAvailabilityZone) == "" || len(ngc.ReplicaAvailabilityZones) != 1 {
		t.Errorf("node group configuration %+v, want the primary's zone and one replica zone", ngc)
	}
}

// ReshardingConfiguration names and places the node groups a scale-out adds, and only those.
func TestReshardingConfigurationPlacesNewNodeGroups(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	if _, err := c.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups = aws.String("sh"), aws.Int32(2)
	})); err != nil {
		t.Fatal(err)
	}
	markGroupAvailable(t, p.store, "sh")
	reshard := func(count int32, config ...types.ReshardingConfiguration) (*elasticache.ModifyReplicationGroupShardConfigurationOutput, error) {
		return c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{ReplicationGroupId: aws.String("sh"),
			NodeGroupCount: aws.Int32(count), ApplyImmediately: aws.Bool(true), ReshardingConfiguration: config})
	}
	for _, r := range []struct {
		name   string
		count  int32
		config types.ReshardingConfiguration
		code   string
	}{
		{"a zone of no region", 3, types.ReshardingConfiguration{PreferredAvailabilityZones: []string{"mars-1a", "us-east-1b"}}, "InvalidParameterValue"},
		{"an unchanged count", 2, types.ReshardingConfiguration{PreferredAvailabilityZones: []string{"us-east-1a", "us-east-1b"}}, "InvalidParameterCombination"},
		{"a node group id that is not one", 3, types.ReshardingConfiguration{NodeGroupId: aws.String("abcde")}, "InvalidParameterValue"},
	} {
		_, err := reshard(r.count, r.config)
		if code, _ := apiError(t, err); code != r.code {
			t.Errorf("%s: %v, want %s", r.name, err, r.code)
		}
	}
	out, err := reshard(3, types.ReshardingConfiguration{NodeGroupId: aws.String("0011"), PreferredAvailabilityZones: []string{"us-east-1c", "us-east-1b"}})
	if err != nil {
		t.Fatal(err)
	}
	var added *types.NodeGroup
	for i, ng := range out.ReplicationGroup.NodeGroups {
		if aws.ToString(ng.NodeGroupId) == "0011" {
			added = &out.ReplicationGroup.NodeGroups[i]
		}
	}
	if added == nil {
		t.Fatalf("node groups %v: no 0011", out.ReplicationGroup.NodeGroups)
	}
	var zones []string
	for _, id := range []string{"sh-0011-001", "sh-0011-002"} {
		zones = append(zones, aws.ToString(describeCluster(t, c, id).PreferredAvailabilityZone))
	}
	if zones[0] != "us-east-1c" || zones[1] != "us-east-1b" {
		t.Errorf("new node group's members in %v, want [us-east-1c us-east-1b]", zones)
	}
}

// TestFailover's limit of 15 node groups a day is the account's: calls on two groups count together.
func TestTestFailoverLimitIsPerAccount(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if _, err := p.client.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
			ReplicationGroupDescription: aws.String(id), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
			NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	failover := func(id string) error {
		markGroupAvailable(t, p.store, id) // the previous test failover is over
		editRecord(t, p.store, resource.KindReplicationGroup, func(g *resource.ReplicationGroup) { g.Failover = nil }, id)
		_, err := p.client.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String(id), NodeGroupId: aws.String("0001")})
		return err
	}
	for i := range 15 {
		if err := failover([]string{"a", "b"}[i%2]); err != nil {
			t.Fatalf("test failover %d: %v", i+1, err)
		}
	}
	if code, _ := apiError(t, failover("b")); code != "TestFailoverNotAvailableFault" {
		t.Errorf("a 16th test failover in 24 hours, over two groups: %s, want TestFailoverNotAvailableFault", code)
	}
}

// A restore that names no engine version gets the snapshot's, not the newest default.
func TestRestoreTakesTheSnapshotsVersion(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.EngineVersion = aws.String("r71"), aws.String("7.1")
	})); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "r71")
	if _, err := p.client.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("r71"), SnapshotName: aws.String("s71")}); err != nil {
		t.Fatal(err)
	}
	editRecord(t, p.store, resource.KindSnapshot, func(s *resource.Snapshot) { s.Status = resource.SnapshotAvailable }, "s71")
	out, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) {
		in.CacheClusterId, in.SnapshotName = aws.String("back"), aws.String("s71")
	}))
	if err != nil {
		t.Fatalf("restoring a 7.1 snapshot without EngineVersion: %v", err)
	}
	if v := aws.ToString(out.CacheCluster.EngineVersion); v != "7.1" {
		t.Errorf("restored cluster runs %s, want the snapshot's 7.1", v)
	}
	// While the restore runs the snapshot says so, and cannot be deleted.
	status := func(name string) string {
		out, err := p.client.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Snapshots[0].SnapshotStatus)
	}
	if st := status("s71"); st != "restoring" {
		t.Errorf("snapshot status during a restore: %s, want restoring", st)
	}
	if _, err := p.client.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("s71")}); err == nil {
		t.Error("a snapshot being restored was deleted")
	} else if code, _ := apiError(t, err); code != "InvalidSnapshotState" {
		t.Errorf("deleting a snapshot being restored: %s, want InvalidSnapshotState", code)
	}
	markAvailable(t, p.store, "back")
	if _, err := p.client.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("s71"), TargetSnapshotName: aws.String("s71-copy")}); err != nil {
		t.Fatal(err)
	}
	if st := status("s71"); st != "copying" {
		t.Errorf("snapshot status during a copy: %s, want copying", st)
	}
	if _, err := p.client.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("s71")}); err == nil {
		t.Error("a snapshot being copied was deleted")
	}
}

// ApplyImmediately applies the request and whatever earlier requests left for the maintenance window.
func TestApplyImmediatelyTakesPendingChanges(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	markGroupAvailable(t, p.store, "g")
	markAvailable(t, p.store, "g-001", "g-002")
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		CacheNodeType: aws.String("cache.t3.small"), ApplyImmediately: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if m := describeCluster(t, c, "g-002"); m.PendingModifiedValues == nil || aws.ToString(m.PendingModifiedValues.CacheNodeType) != "cache.t3.small" {
		t.Fatalf("member pending values %+v, want cache.t3.small pending", m.PendingModifiedValues)
	}
	markGroupAvailable(t, p.store, "g")
	markAvailable(t, p.store, "g-001", "g-002")
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("now"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g-001", "g-002"} {
		m := describeCluster(t, c, id)
		if aws.ToString(m.CacheNodeType) != "cache.t3.small" || (m.PendingModifiedValues != nil && m.PendingModifiedValues.CacheNodeType != nil) {
			t.Errorf("%s after ApplyImmediately: node type %s, pending %+v; want cache.t3.small applied", id, aws.ToString(m.CacheNodeType), m.PendingModifiedValues)
		}
	}
	// A new primary without ApplyImmediately waits for the maintenance window; ApplyImmediately starts it.
	markGroupAvailable(t, p.store, "g")
	markAvailable(t, p.store, "g-001", "g-002")
	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		PrimaryClusterId: aws.String("g-002"), ApplyImmediately: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ReplicationGroup.PendingModifiedValues.PrimaryClusterId); got != "g-002" || aws.ToString(out.ReplicationGroup.Status) != "available" {
		t.Errorf("after PrimaryClusterId without ApplyImmediately: status %s, pending primary %q; want available with g-002 pending",
			aws.ToString(out.ReplicationGroup.Status), got)
	}
	out, err = c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ReplicationGroup.PendingModifiedValues.PrimaryClusterId); got != "g-002" || aws.ToString(out.ReplicationGroup.Status) != "modifying" {
		t.Errorf("after ApplyImmediately: status %s, pending primary %q; want modifying towards g-002", aws.ToString(out.ReplicationGroup.Status), got)
	}
}

// Right after a scale-in, while the removed node group's clusters are still being deleted, a scale-out
// gets a node group name that is free instead of failing on the old one's clusters.
func TestScaleOutRightAfterScaleIn(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	if _, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups = aws.String("sh"), aws.Int32(2)
	})); err != nil {
		t.Fatal(err)
	}
	// The scale-in of 0002 has finished in the group; its clusters are still being deleted.
	editRecord(t, p.store, resource.KindReplicationGroup, func(g *resource.ReplicationGroup) {
		g.NodeGroups = g.NodeGroups[:1]
		g.NodeGroups[0].Slots = "0-16383"
	}, "sh")
	markGroupAvailable(t, p.store, "sh")
	markAvailable(t, p.store, "sh-0001-001", "sh-0001-002")
	editRecord(t, p.store, resource.KindCluster, func(c *resource.Cluster) { c.MarkDeleting() }, "sh-0002-001", "sh-0002-002")
	out, err := p.client.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("sh"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scale-out right after a scale-in: %v", err)
	}
	if ids := []string{aws.ToString(out.ReplicationGroup.NodeGroups[0].NodeGroupId), aws.ToString(out.ReplicationGroup.NodeGroups[1].NodeGroupId)}; ids[1] == "0002" {
		t.Errorf("node groups %v: the new one took the name whose clusters are being deleted", ids)
	}
}

// While an AUTH token is rotated, the group says so in its pending values, as its members do.
func TestGroupShowsTheAuthTokenRotation(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	if _, err := p.client.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("tok"),
		ReplicationGroupDescription: aws.String("tok"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String("first-token-0123456789")}); err != nil {
		t.Fatal(err)
	}
	markGroupAvailable(t, p.store, "tok")
	markAvailable(t, p.store, "tok-001", "tok-002")
	out, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("tok"),
		AuthToken: aws.String("second-token-0123456789"), AuthTokenUpdateStrategy: types.AuthTokenUpdateStrategyTypeRotate, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.ReplicationGroup.PendingModifiedValues.AuthTokenStatus; got != types.AuthTokenUpdateStatusRotating {
		t.Errorf("group pending AuthTokenStatus = %q, want ROTATING", got)
	}
}

// A cluster's new parameter group without ApplyImmediately waits for the maintenance window.
func TestParameterGroupSwitchWaitsForTheWindow(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("tuned"),
		CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("tuned")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("pgw") })); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "pgw")
	group := func() string {
		return aws.ToString(describeCluster(t, c, "pgw").CacheParameterGroup.CacheParameterGroupName)
	}
	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("pgw"), CacheParameterGroupName: aws.String("tuned")}); err != nil {
		t.Fatal(err)
	}
	if g := group(); g != "default.redis7" {
		t.Errorf("parameter group right after a switch without ApplyImmediately: %s, want default.redis7 until the window", g)
	}
	markAvailable(t, p.store, "pgw")
	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("pgw"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if g := group(); g != "tuned" {
		t.Errorf("parameter group after ApplyImmediately: %s, want tuned", g)
	}
}
