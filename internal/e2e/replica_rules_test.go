package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/service"
)

// TestReplicaCountRules sends bad IncreaseReplicaCount/DecreaseReplicaCount requests to a cluster mode
// enabled and a cluster mode disabled group; each gets its modelled error and changes nothing. Then a good
// request of each kind changes the right node groups.
func TestReplicaCountRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	// sharded: 0001 and 0002 with 1 replica, 0003 with 3.
	_, err := p.client.CreateReplicationGroup(ctx, cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.NumNodeGroups, in.ReplicasPerNodeGroup = aws.String("sharded"), nil, nil
		in.NodeGroupConfiguration = []types.NodeGroupConfiguration{ngc("0-5461", 1), ngc("5462-10922", 1), ngc("10923-16383", 3)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.CreateReplicationGroup(ctx, rgReq(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("plain") })); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "sharded-0001-001", "sharded-0001-002", "sharded-0002-001", "sharded-0002-002",
		"sharded-0003-001", "sharded-0003-002", "sharded-0003-003", "sharded-0003-004", "plain-001", "plain-002")
	markGroupAvailable(t, p.store, "sharded")
	markGroupAvailable(t, p.store, "plain")

	const badValue, badCombo, noOp = "InvalidParameterValue", "InvalidParameterCombination", "NoOperationFault"
	increase := func(in *elasticache.IncreaseReplicaCountInput) func() error {
		return func() error {
			if in.ReplicationGroupId == nil {
				in.ReplicationGroupId = aws.String("sharded")
			}
			if in.ApplyImmediately == nil {
				in.ApplyImmediately = aws.Bool(true)
			}
			_, err := p.client.IncreaseReplicaCount(ctx, in)
			return err
		}
	}
	decrease := func(in *elasticache.DecreaseReplicaCountInput) func() error {
		return func() error {
			if in.ReplicationGroupId == nil {
				in.ReplicationGroupId = aws.String("sharded")
			}
			if in.ApplyImmediately == nil {
				in.ApplyImmediately = aws.Bool(true)
			}
			_, err := p.client.DecreaseReplicaCount(ctx, in)
			return err
		}
	}
	shard := func(id string, n int32, azs ...string) types.ConfigureShard {
		return types.ConfigureShard{NodeGroupId: aws.String(id), NewReplicaCount: aws.Int32(n), PreferredAvailabilityZones: azs}
	}
	rows := []rule{
		{"increase without a count", increase(&elasticache.IncreaseReplicaCountInput{}), badValue, 400},
		{"increase with count and configuration", increase(&elasticache.IncreaseReplicaCountInput{NewReplicaCount: aws.Int32(4), ReplicaConfiguration: []types.ConfigureShard{shard("0001", 2)}}), badCombo, 400},
		{"increase not immediately", increase(&elasticache.IncreaseReplicaCountInput{NewReplicaCount: aws.Int32(4), ApplyImmediately: aws.Bool(false)}), badValue, 400},
		{"increase below a node group's count", increase(&elasticache.IncreaseReplicaCountInput{NewReplicaCount: aws.Int32(2)}), badValue, 400},
		{"increase to six replicas", increase(&elasticache.IncreaseReplicaCountInput{NewReplicaCount: aws.Int32(6)}), badValue, 400},
		{"increase to the current count", increase(&elasticache.IncreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0001", 1), shard("0003", 3)}}), noOp, 400},
		{"increase an unknown node group", increase(&elasticache.IncreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0009", 2)}}), "NodeGroupNotFoundFault", 404},
		{"increase a node group twice", increase(&elasticache.IncreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0001", 2), shard("0001", 3)}}), badValue, 400},
		{"increase with too few AZs", increase(&elasticache.IncreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0001", 2, "us-east-1a", "us-east-1b")}}), badValue, 400},
		{"increase with an AZ of another region", increase(&elasticache.IncreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0001", 2, "us-east-1a", "us-east-1b", "eu-west-1a")}}), badValue, 400},
		{"increase an unknown group", increase(&elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("nope"), NewReplicaCount: aws.Int32(2)}), "ReplicationGroupNotFoundFault", 404},
		{"increase node group 0002 of a cluster mode disabled group", increase(&elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("plain"), ReplicaConfiguration: []types.ConfigureShard{shard("0002", 2)}}), "NodeGroupNotFoundFault", 404},

		{"decrease without a count", decrease(&elasticache.DecreaseReplicaCountInput{}), badValue, 400},
		{"decrease not immediately", decrease(&elasticache.DecreaseReplicaCountInput{NewReplicaCount: aws.Int32(0), ApplyImmediately: aws.Bool(false)}), badValue, 400},
		{"decrease above a node group's count", decrease(&elasticache.DecreaseReplicaCountInput{NewReplicaCount: aws.Int32(2)}), badValue, 400},
		{"decrease to the current count", decrease(&elasticache.DecreaseReplicaCountInput{ReplicaConfiguration: []types.ConfigureShard{shard("0003", 3)}}), noOp, 400},
		{"decrease removing a primary", decrease(&elasticache.DecreaseReplicaCountInput{ReplicasToRemove: []string{"sharded-0002-001"}}), badValue, 400},
		{"decrease removing a stranger", decrease(&elasticache.DecreaseReplicaCountInput{ReplicasToRemove: []string{"plain-002"}}), badValue, 400},
		{"decrease removing a replica twice", decrease(&elasticache.DecreaseReplicaCountInput{ReplicasToRemove: []string{"sharded-0003-002", "sharded-0003-002"}}), badValue, 400},
		{"decrease naming fewer replicas than the count removes", decrease(&elasticache.DecreaseReplicaCountInput{
			ReplicaConfiguration: []types.ConfigureShard{shard("0003", 1)}, ReplicasToRemove: []string{"sharded-0003-002"},
		}), badValue, 400},
		{"decrease a cluster mode disabled group with automatic failover to 0", decrease(&elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("plain"), NewReplicaCount: aws.Int32(0)}), badCombo, 400},
	}
	runRules(t, p.store, rows)

	// Good requests: node group 0001 gains a replica in the AZ asked for; then 0003 loses the two named.
	inc, err := p.client.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("sharded"), ApplyImmediately: aws.Bool(true),
		ReplicaConfiguration: []types.ConfigureShard{shard("0001", 2, "us-east-1a", "us-east-1b", "us-east-1c")}})
	if err != nil {
		t.Fatalf("IncreaseReplicaCount: %v", err)
	}
	if got := aws.ToString(inc.ReplicationGroup.Status); got != "modifying" {
		t.Errorf("status after increase = %s, want modifying", got)
	}
	if !slices.Contains(inc.ReplicationGroup.MemberClusters, "sharded-0001-003") || len(inc.ReplicationGroup.MemberClusters) != 9 {
		t.Errorf("members after increase = %v, want 9 with sharded-0001-003", inc.ReplicationGroup.MemberClusters)
	}
	cl, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("sharded-0001-003")})
	if err != nil {
		t.Fatal(err)
	}
	if az := aws.ToString(cl.CacheClusters[0].PreferredAvailabilityZone); az != "us-east-1c" {
		t.Errorf("new replica in %s, want us-east-1c", az)
	}
	markAvailable(t, p.store, "sharded-0001-003")
	markGroupAvailable(t, p.store, "sharded")
	dec, err := p.client.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("sharded"), ApplyImmediately: aws.Bool(true),
		ReplicasToRemove: []string{"sharded-0003-002", "sharded-0003-004"}})
	if err != nil {
		t.Fatalf("DecreaseReplicaCount: %v", err)
	}
	for _, ng := range dec.ReplicationGroup.NodeGroups {
		want := map[string]int{"0001": 3, "0002": 2, "0003": 2}[aws.ToString(ng.NodeGroupId)]
		if len(ng.NodeGroupMembers) != want {
			t.Errorf("node group %s has %d members after decrease, want %d", aws.ToString(ng.NodeGroupId), len(ng.NodeGroupMembers), want)
		}
	}
	gone, err := p.client.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("sharded-0003-004")})
	if err != nil || aws.ToString(gone.CacheClusters[0].CacheClusterStatus) != "deleting" {
		t.Errorf("removed replica: %v %v, want deleting", gone, err)
	}
}
