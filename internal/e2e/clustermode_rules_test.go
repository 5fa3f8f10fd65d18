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

// cmeReq is a valid cluster mode enabled CreateReplicationGroup request, changed by mod.
func cmeReq(mod func(*elasticache.CreateReplicationGroupInput)) *elasticache.CreateReplicationGroupInput {
	in := &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("bad"), ReplicationGroupDescription: aws.String("d"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
	}
	if mod != nil {
		mod(in)
	}
	return in
}

func ngc(slots string, replicas int32) types.NodeGroupConfiguration {
	return types.NodeGroupConfiguration{Slots: aws.String(slots), ReplicaCount: aws.Int32(replicas)}
}

// markGroupAvailable sets a stored group and its node groups available, as the controller would.
func markGroupAvailable(t *testing.T, st store.Store, id string) {
	t.Helper()
	editRecord(t, st, resource.KindReplicationGroup, func(g *resource.ReplicationGroup) {
		g.Status = resource.StatusAvailable
		for i := range g.NodeGroups {
			g.NodeGroups[i].Status = resource.StatusAvailable
		}
	}, id)
}

// TestClusterModeRules sends bad cluster mode requests (creation, resharding and the operations a cluster
// mode group refuses); each gets its modelled error and changes nothing.
func TestClusterModeRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	created, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("sharded") }))
	if err != nil {
		t.Fatal(err)
	}
	if got := created.ReplicationGroup.MemberClusters[0]; got != "sharded-0001-001" {
		t.Errorf("first member = %s, want sharded-0001-001", got)
	}
	custom, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups = aws.String("custom"), nil
		in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-99,200-16383", 0), ngc("100-199", 2)}
	}))
	if err != nil {
		t.Fatalf("create with NodeGroupConfiguration: %v", err)
	}
	if ngs := custom.ReplicationGroup.NodeGroups; len(ngs) != 2 || aws.ToString(ngs[0].Slots) != "0-99,200-16383" || len(ngs[1].NodeGroupMembers) != 3 {
		t.Errorf("NodeGroupConfiguration not followed: %+v", ngs)
	}
	if _, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("plain") })); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumCacheClusters, in.AutomaticFailoverEnabled = aws.String("solo"), aws.Int32(1), aws.Bool(false)
	})); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "solo-001")
	markGroupAvailable(t, p.store, "solo")
	markAvailable(t, p.store, "sharded-0001-001", "sharded-0001-002", "sharded-0002-001", "sharded-0002-002", "sharded-0003-001", "sharded-0003-002", "plain-001", "plain-002")
	markGroupAvailable(t, p.store, "sharded")
	markGroupAvailable(t, p.store, "plain")

	const badValue, badCombo = "InvalidParameterValue", "InvalidParameterCombination"
	create := func(mod func(*elasticache.CreateReplicationGroupInput)) func() error {
		return func() error {
			_, err := p.client.CreateReplicationGroup(ctx, cmeReq(mod))
			return err
		}
	}
	modify := func(in *elasticache.ModifyReplicationGroupInput) func() error {
		return func() error {
			if in.ReplicationGroupId == nil {
				in.ReplicationGroupId = aws.String("plain")
			}
			_, err := p.client.ModifyReplicationGroup(ctx, in)
			return err
		}
	}
	reshard := func(in *elasticache.ModifyReplicationGroupShardConfigurationInput) func() error {
		return func() error {
			if in.ReplicationGroupId == nil {
				in.ReplicationGroupId = aws.String("sharded")
			}
			if in.ApplyImmediately == nil {
				in.ApplyImmediately = aws.Bool(true)
			}
			_, err := p.client.ModifyReplicationGroupShardConfiguration(ctx, in)
			return err
		}
	}
	rows := []rule{
		{"cluster mode disabled with three node groups", create(func(in *elasticache.CreateReplicationGroupInput) { in.ClusterMode = types.ClusterModeDisabled }), badCombo, 400},
		{"cluster mode compatible at creation", create(func(in *elasticache.CreateReplicationGroupInput) { in.ClusterMode = types.ClusterModeCompatible }), badCombo, 400},
		{"automatic failover disabled", create(func(in *elasticache.CreateReplicationGroupInput) { in.AutomaticFailoverEnabled = aws.Bool(false) }), badCombo, 400},
		{"parameter group without cluster-enabled", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("default.valkey8")
		}), badCombo, 400},
		{"NumCacheClusters with node groups", create(func(in *elasticache.CreateReplicationGroupInput) { in.NumCacheClusters = aws.Int32(2) }), badCombo, 400},
		{"PrimaryClusterId with node groups", create(func(in *elasticache.CreateReplicationGroupInput) { in.PrimaryClusterId = aws.String("plain-001") }), badCombo, 400},
		{"six replicas per node group", create(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicasPerNodeGroup = aws.Int32(6) }), badValue, 400},
		{"501 node groups", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups, in.ReplicasPerNodeGroup = aws.Int32(501), aws.Int32(0)
		}), "NodeGroupsPerReplicationGroupQuotaExceeded", 400},
		{"91 nodes", create(func(in *elasticache.CreateReplicationGroupInput) { in.NumNodeGroups = aws.Int32(46) }), "NodeQuotaForClusterExceeded", 400},
		{"NumNodeGroups differs from the configurations", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-8191", 1), ngc("8192-16383", 1)}
		}), badValue, 400},
		{"slots leave a gap", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-8000", 1), ngc("8192-16383", 1)}
		}), badValue, 400},
		{"slots overlap", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-9000", 1), ngc("8192-16383", 1)}
		}), badValue, 400},
		{"slots beyond 16383", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-8191", 1), ngc("8192-16384", 1)}
		}), badValue, 400},
		{"slots on one node group only", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-16383", 1), {ReplicaCount: aws.Int32(1)}}
		}), badValue, 400},
		{"node group id twice", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			a, b := ngc("0-8191", 1), ngc("8192-16383", 1)
			a.NodeGroupId, b.NodeGroupId = aws.String("0007"), aws.String("0007")
			in.NodeGroupConfiguration = []types.NodeGroupConfiguration{a, b}
		}), badValue, 400},
		{"replica AZs do not match the replica count", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups = nil
			a := ngc("0-16383", 2)
			a.PrimaryAvailabilityZone, a.ReplicaAvailabilityZones = aws.String("us-east-1a"), []string{"us-east-1b"}
			in.NodeGroupConfiguration, in.ClusterMode = []types.NodeGroupConfiguration{a}, types.ClusterModeEnabled
		}), badValue, 400},

		{"reshard without NodeGroupCount", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{}), "MissingParameter", 400},
		{"reshard without ApplyImmediately", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(4), ApplyImmediately: aws.Bool(false)}), badValue, 400},
		{"reshard to 0 node groups", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(0)}), badValue, 400},
		{"reshard to 501 node groups", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(501)}), "NodeGroupsPerReplicationGroupQuotaExceeded", 400},
		{"reshard past 90 nodes", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(46)}), "NodeGroupsPerReplicationGroupQuotaExceeded", 400},
		{"scale in without naming node groups", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(2)}), badValue, 400},
		{"scale in naming an unknown node group", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(2), NodeGroupsToRemove: []string{"0009"}}), badValue, 400},
		{"scale in removing too many", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(2), NodeGroupsToRemove: []string{"0001", "0002"}}), badValue, 400},
		{"scale in with remove and retain", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(2), NodeGroupsToRemove: []string{"0001"}, NodeGroupsToRetain: []string{"0002", "0003"}}), badCombo, 400},
		{"scale out naming node groups to remove", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(4), NodeGroupsToRemove: []string{"0001"}}), badCombo, 400},
		{"reshard a cluster mode disabled group", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{ReplicationGroupId: aws.String("plain"), NodeGroupCount: aws.Int32(2)}), badCombo, 400},
		{"reshard an unknown group", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{ReplicationGroupId: aws.String("nope"), NodeGroupCount: aws.Int32(2)}), "ReplicationGroupNotFoundFault", 404},
		{"reshard a group still creating", reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{ReplicationGroupId: aws.String("custom"), NodeGroupCount: aws.Int32(3)}), "InvalidReplicationGroupState", 400},
		{"test failover of an unknown node group", func() error {
			_, err := p.client.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("sharded"), NodeGroupId: aws.String("0004")})
			return err
		}, "NodeGroupNotFoundFault", 404},
		{"delete retaining a primary", func() error {
			_, err := p.client.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("sharded"), RetainPrimaryCluster: aws.Bool(true)})
			return err
		}, badCombo, 400},
		{"add a cache cluster to a shard", func() error {
			_, err := p.client.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("extra"), ReplicationGroupId: aws.String("sharded")})
			return err
		}, badCombo, 400},
		{"disable automatic failover", func() error {
			_, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("sharded"), AutomaticFailoverEnabled: aws.Bool(false)})
			return err
		}, badCombo, 400},
		{"PrimaryClusterId on a sharded group", func() error {
			_, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("sharded"), PrimaryClusterId: aws.String("sharded-0001-002")})
			return err
		}, badCombo, 400},
		{"SnapshottingClusterId on a sharded group", func() error {
			_, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("sharded"), SnapshottingClusterId: aws.String("sharded-0001-002")})
			return err
		}, badCombo, 400},
		{"SnapshottingClusterId of another group's member", func() error {
			_, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("plain"), SnapshottingClusterId: aws.String("sharded-0001-002")})
			return err
		}, "InvalidParameterValue", 400},
		{"cluster-enabled parameter group on a plain group", func() error {
			_, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("plain"), CacheParameterGroupName: aws.String("default.valkey8.cluster.on"), ApplyImmediately: aws.Bool(true)})
			return err
		}, badCombo, 400},
		{"cluster mode enabled back to disabled", modify(&elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("sharded"), ClusterMode: types.ClusterModeDisabled}), badCombo, 400},
		{"cluster mode disabled straight to enabled", modify(&elasticache.ModifyReplicationGroupInput{ClusterMode: types.ClusterModeEnabled}), badCombo, 400},
		{"an unknown cluster mode", modify(&elasticache.ModifyReplicationGroupInput{ClusterMode: types.ClusterMode("sideways")}), badValue, 400},
		{"cluster mode with another change", modify(&elasticache.ModifyReplicationGroupInput{ClusterMode: types.ClusterModeCompatible, CacheNodeType: aws.String("cache.t3.medium")}), badCombo, 400},
		{"compatible with a parameter group without cluster-enabled", modify(&elasticache.ModifyReplicationGroupInput{ClusterMode: types.ClusterModeCompatible, CacheParameterGroupName: aws.String("default.valkey8")}), badCombo, 400},
		{"compatible without automatic failover", modify(&elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("solo"), ClusterMode: types.ClusterModeCompatible}), badCombo, 400},
	}
	runRules(t, p.store, rows)

	// A group in cluster mode compatible takes no other change until it moves on to enabled.
	out, err := p.client.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("plain"), ClusterMode: types.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("to compatible: %v", err)
	}
	if rg := out.ReplicationGroup; rg.ClusterMode != types.ClusterModeCompatible || rg.ConfigurationEndpoint == nil || rg.NodeGroups[0].PrimaryEndpoint == nil {
		t.Errorf("compatible: mode %q, configuration endpoint %v, primary endpoint %v", rg.ClusterMode, rg.ConfigurationEndpoint, rg.NodeGroups[0].PrimaryEndpoint)
	}
	markGroupAvailable(t, p.store, "plain")
	runRules(t, p.store, []rule{
		{"compatible back to disabled", modify(&elasticache.ModifyReplicationGroupInput{ClusterMode: types.ClusterModeDisabled}), badCombo, 400},
		{"node type change while compatible", modify(&elasticache.ModifyReplicationGroupInput{CacheNodeType: aws.String("cache.t3.medium"), ApplyImmediately: aws.Bool(true)}), badCombo, 400},
		{"replica added while compatible", func() error {
			_, err := p.client.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("plain"), NewReplicaCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)})
			return err
		}, badCombo, 400},
	})
}

// TestNodesPerGroupQuota: the node quota of a cluster mode enabled group is a setting (AWS raises its 90 on
// request, up to 500): raised, a 92-node group is created, and the new limit is the one refused.
func TestNodesPerGroupQuota(t *testing.T) {
	q := service.DefaultQuotas()
	q.NodesPerGroup, q.NodesPerRegion, q.ClustersPerRegion = 120, 1000, 1000
	p := newInProcess(t, q, 29300, 29799)
	ctx := context.Background()
	if _, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups = aws.String("big"), aws.Int32(46)
	})); err != nil {
		t.Fatalf("92 nodes under a quota of 120: %v", err)
	}
	_, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups = aws.String("bigger"), aws.Int32(61)
	}))
	if code, _ := apiError(t, err); code != "NodeQuotaForClusterExceeded" || !strings.Contains(err.Error(), "at most 120 nodes") {
		t.Errorf("122 nodes under a quota of 120: %v", err)
	}
}
