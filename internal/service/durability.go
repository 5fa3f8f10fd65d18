package service

import (
	"fmt"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
)

// Durability values (Durability); default resolves to disabled.
const (
	durabilitySync     = "sync"
	durabilityAsync    = "async"
	durabilityDisabled = "disabled"
	durabilityDefault  = "default"
)

// durabilityOn reports whether a Durability value asks for the transaction log.
func durabilityOn(d string) bool { return d == durabilitySync || d == durabilityAsync }

func validDurability(d string) error {
	switch d {
	case durabilitySync, durabilityAsync, durabilityDisabled, durabilityDefault:
		return nil
	}
	return api.InvalidParameterValueException("Invalid value %q for Durability. Valid values: sync, async, disabled, default.", d)
}

// createDurability checks a new group's Durability against ElastiCache's requirements (Valkey, cluster mode
// enabled, Multi-AZ with a replica in every shard, in-transit encryption at creation, not in a global
// datastore), each refused with its own reason.
func createDurability(g *resource.ReplicationGroup, in *api.CreateReplicationGroupMessage) (string, error) {
	d := deref(in.Durability)
	if d == "" {
		d = durabilityDefault
	}
	if err := validDurability(d); err != nil || !durabilityOn(d) {
		return d, err
	}
	minReplicas := deref(in.ReplicasPerNodeGroup)
	if in.NodeGroupConfiguration != nil {
		minReplicas = -1
		for _, ng := range in.NodeGroupConfiguration {
			if r := deref(ng.ReplicaCount); minReplicas < 0 || r < minReplicas {
				minReplicas = r
			}
		}
	}
	switch {
	case g.Engine != engine.EngineValkey && in.PrimaryClusterId == nil:
		return "", api.InvalidParameterCombinationException("Durability %s requires the valkey engine; the group would run %s.", d, g.Engine)
	case !g.ClusterEnabled:
		return "", api.InvalidParameterCombinationException("Durability %s requires cluster mode enabled.", d)
	case !g.MultiAZ || minReplicas < 1:
		return "", api.InvalidParameterCombinationException("Durability %s requires Multi-AZ (MultiAZEnabled) with at least one replica in every node group.", d)
	case !g.TransitEncryption:
		return "", api.InvalidParameterCombinationException("Durability %s requires in-transit encryption (TransitEncryptionEnabled) at creation.", d)
	case in.GlobalReplicationGroupId != nil:
		return "", api.InvalidParameterCombinationException("Durability %s is not available for a member of a global datastore.", d)
	}
	return d, nil
}

// newShardLog lays out a new shard's transaction log on ports (two per replica: Raft and API), one replica
// per Availability Zone.
func newShardLog(g *resource.ReplicationGroup, ports []int) *resource.ShardLog {
	l := &resource.ShardLog{}
	for i := range resource.LogReplicasPerShard {
		l.Replicas = append(l.Replicas, resource.LogReplica{
			ID: fmt.Sprintf("r%d", i+1), RaftPort: ports[2*i], APIPort: ports[2*i+1], AZ: fmt.Sprintf("%s%c", g.Region, 'a'+i),
		})
	}
	return l
}

// modifyDurability applies ModifyReplicationGroup's Durability: sync and async switch between each other,
// but whether durability is on is fixed at creation.
func modifyDurability(g *resource.ReplicationGroup, requested *string) error {
	if requested == nil {
		return nil
	}
	d := *requested
	if err := validDurability(d); err != nil {
		return err
	}
	if durabilityOn(d) != durabilityOn(g.Durability) {
		return api.InvalidParameterCombinationException("Durability of replication group %s is fixed at creation: it cannot be turned on or off (it is %s).", g.ID, g.Durability)
	}
	g.Durability = d
	return nil
}

// effectiveDurability is the mode in force: the group's when its log runs (it is fixed at creation), else
// disabled (default resolves to it).
func effectiveDurability(g *resource.ReplicationGroup) string {
	if g.Durable() {
		return g.Durability
	}
	return durabilityDisabled
}
