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
)

// durableReq is a request that meets every requirement of durability.
func durableReq(mod func(*elasticache.CreateReplicationGroupInput)) *elasticache.CreateReplicationGroupInput {
	in := cmeReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.Durability = aws.String("dur"), types.DurabilitySync
		in.MultiAZEnabled, in.AutomaticFailoverEnabled, in.TransitEncryptionEnabled = aws.Bool(true), aws.Bool(true), aws.Bool(true)
	})
	if mod != nil {
		mod(in)
	}
	return in
}

// TestDurabilityRules: each requirement of durability is refused with its own reason and nothing created;
// whether durability is on cannot change after creation; a restore keeps the snapshot's durability.
func TestDurabilityRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	for _, r := range []struct {
		name, code, reason string
		mod                func(*elasticache.CreateReplicationGroupInput)
	}{
		{"a value that does not exist", "InvalidParameterValue", "Valid values", func(in *elasticache.CreateReplicationGroupInput) { in.Durability = "always" }},
		{"redis", "InvalidParameterCombination", "valkey engine", func(in *elasticache.CreateReplicationGroupInput) { in.Engine = aws.String("redis") }},
		{"cluster mode disabled", "InvalidParameterCombination", "cluster mode enabled", func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups, in.ReplicasPerNodeGroup, in.NumCacheClusters = nil, nil, aws.Int32(2)
		}},
		{"no Multi-AZ", "InvalidParameterCombination", "Multi-AZ", func(in *elasticache.CreateReplicationGroupInput) { in.MultiAZEnabled = aws.Bool(false) }},
		{"a shard without a replica", "InvalidParameterCombination", "replica in every node group", func(in *elasticache.CreateReplicationGroupInput) {
			in.ReplicasPerNodeGroup, in.MultiAZEnabled = aws.Int32(0), aws.Bool(true)
		}},
		{"no in-transit encryption", "InvalidParameterCombination", "in-transit encryption", func(in *elasticache.CreateReplicationGroupInput) { in.TransitEncryptionEnabled = nil }},
		{"async without Multi-AZ", "InvalidParameterCombination", "Multi-AZ", func(in *elasticache.CreateReplicationGroupInput) {
			in.Durability, in.MultiAZEnabled = types.DurabilityAsync, aws.Bool(false)
		}},
	} {
		before, _ := p.store.Revision(ctx)
		_, err := c.CreateReplicationGroup(ctx, durableReq(r.mod))
		if err == nil {
			t.Errorf("%s: created", r.name)
			continue
		}
		if code, _ := apiError(t, err); code != r.code || !strings.Contains(err.Error(), r.reason) {
			t.Errorf("%s: %v, want %s saying %q", r.name, err, r.code, r.reason)
		}
		if after, _ := p.store.Revision(ctx); after != before {
			t.Errorf("%s: the refused request changed the store", r.name)
		}
	}

	// Off stays off: default and disabled are both off, sync would turn it on.
	if _, err := c.CreateReplicationGroup(ctx, durableReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.Durability = aws.String("off"), types.DurabilityDisabled
	})); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "off-0001-001", "off-0001-002", "off-0002-001", "off-0002-002", "off-0003-001", "off-0003-002")
	markGroupAvailable(t, p.store, "off")
	_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("off"), Durability: types.DurabilitySync})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("turning durability on after creation: %v, want InvalidParameterCombination", err)
	}
	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("off"), Durability: types.DurabilityDefault})
	if err != nil || out.ReplicationGroup.Durability != types.DurabilityDefault || out.ReplicationGroup.EffectiveDurability != types.EffectiveDurabilityDisabled {
		t.Errorf("disabled to default: %v, durability %q effective %q", err, out.ReplicationGroup.Durability, out.ReplicationGroup.EffectiveDurability)
	}
	// A restore keeps the snapshot's durability.
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("off"), Durability: types.DurabilityDisabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("off"), SnapshotName: aws.String("off-snap")}); err != nil {
		t.Fatal(err)
	}
	editRecord(t, p.store, resource.KindSnapshot, func(s *resource.Snapshot) { s.Status = resource.SnapshotAvailable }, "off-snap")
	restored, err := c.CreateReplicationGroup(ctx, durableReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.Durability, in.SnapshotName = aws.String("back"), "", aws.String("off-snap")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := restored.ReplicationGroup.Durability; got != types.DurabilityDisabled {
		t.Errorf("restored group's durability %q, want the snapshot's disabled", got)
	}

	// On stays on: a sync group gets a log of three replicas per node group on ports no other resource holds;
	// it switches to async and back and cannot be turned off; a node group added by resharding gets a log
	// of its own.
	created, err := c.CreateReplicationGroup(ctx, durableReq(nil))
	if err != nil {
		t.Fatalf("a sync group meeting every requirement: %v", err)
	}
	if g := created.ReplicationGroup; g.Durability != types.DurabilitySync || g.EffectiveDurability != types.EffectiveDurabilitySync {
		t.Errorf("sync group: durability %q, effective %q", g.Durability, g.EffectiveDurability)
	}
	var stored *resource.ReplicationGroup
	editRecord(t, p.store, resource.KindReplicationGroup, func(g *resource.ReplicationGroup) { stored = g }, "dur")
	taken := map[int]string{}
	take := func(port int, what string) {
		if prev, ok := taken[port]; ok || port == 0 {
			t.Errorf("port %d of %s is also %s's", port, what, prev)
		}
		taken[port] = what
	}
	takeNodeGroups := func(ngs []resource.NodeGroup) {
		for _, ng := range ngs {
			if ng.Log == nil || len(ng.Log.Replicas) != 3 {
				t.Fatalf("node group %s has log %+v, want three replicas", ng.ID, ng.Log)
			}
			for _, r := range ng.Log.Replicas {
				take(r.RaftPort, ng.ID+" log "+r.ID)
				take(r.APIPort, ng.ID+" log "+r.ID)
			}
			for _, m := range ng.Members {
				var cl *resource.Cluster
				editRecord(t, p.store, resource.KindCluster, func(c *resource.Cluster) { cl = c }, m.ClusterID)
				if !cl.Durable || len(cl.Nodes[0].EnginePorts) != 2 {
					t.Errorf("member %s: durable %v, engine ports %v", m.ClusterID, cl.Durable, cl.Nodes[0].EnginePorts)
				}
				take(cl.Nodes[0].Port, m.ClusterID)
				take(cl.Nodes[0].BusPort, m.ClusterID+" bus")
				for _, port := range cl.Nodes[0].EnginePorts {
					take(port, m.ClusterID+" engine")
				}
			}
		}
	}
	takeNodeGroups(stored.NodeGroups)
	markAvailable(t, p.store, "dur-0001-001", "dur-0001-002", "dur-0002-001", "dur-0002-002", "dur-0003-001", "dur-0003-002")
	markGroupAvailable(t, p.store, "dur")
	for _, r := range []struct {
		name string
		call func() error
	}{
		{"turning durability off", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("dur"), Durability: types.DurabilityDisabled})
			return err
		}},
		{"turning durability to default (off)", func() error {
			_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("dur"), Durability: types.DurabilityDefault})
			return err
		}},
	} {
		before, _ := p.store.Revision(ctx)
		if code, _ := apiError(t, r.call()); code != "InvalidParameterCombination" {
			t.Errorf("%s: %s, want InvalidParameterCombination", r.name, code)
		}
		if after, _ := p.store.Revision(ctx); after != before {
			t.Errorf("%s: the refused request changed the store", r.name)
		}
	}
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("dur"), NodeGroupCount: aws.Int32(4), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("adding a node group to a sync group: %v", err)
	}
	editRecord(t, p.store, resource.KindReplicationGroup, func(g *resource.ReplicationGroup) { stored = g }, "dur")
	takeNodeGroups(stored.NodeGroups[3:])
	markAvailable(t, p.store, "dur-0004-001", "dur-0004-002")
	markGroupAvailable(t, p.store, "dur")
	for _, mode := range []types.Durability{types.DurabilityAsync, types.DurabilitySync} {
		out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("dur"), Durability: mode, ApplyImmediately: aws.Bool(true)})
		if err != nil {
			t.Fatalf("switching a durable group to %s: %v", mode, err)
		}
		if g := out.ReplicationGroup; string(g.Durability) != string(mode) || string(g.EffectiveDurability) != string(mode) {
			t.Errorf("switched to %s: durability %q, effective %q", mode, g.Durability, g.EffectiveDurability)
		}
	}
	async, err := c.CreateReplicationGroup(ctx, durableReq(func(in *elasticache.CreateReplicationGroupInput) {
		in.ReplicationGroupId, in.Durability, in.NumNodeGroups = aws.String("dur-async"), types.DurabilityAsync, aws.Int32(1)
		in.ClusterMode = types.ClusterModeEnabled
	}))
	if err != nil {
		t.Fatalf("an async group meeting every requirement: %v", err)
	}
	if g := async.ReplicationGroup; g.Durability != types.DurabilityAsync || g.EffectiveDurability != types.EffectiveDurabilityAsync {
		t.Errorf("async group: durability %q, effective %q", g.Durability, g.EffectiveDurability)
	}
}
