package service

import (
	"fmt"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// changeEngine records ModifyReplicationGroup's cross-engine upgrade, the one ElastiCache offers: Redis OSS
// to Valkey, with the engine version (default: the newest Valkey this host runs) and a parameter group of
// the new family (a default group moves to Valkey's own; a custom one must be replaced by the request's).
// The controller carries it out member by member, at once with ApplyImmediately, else in the maintenance
// window.
func (s *Service) changeEngine(tx store.Tx, g *resource.ReplicationGroup, in *api.ModifyReplicationGroupMessage) error {
	target := strings.ToLower(*in.Engine)
	if g.Engine != engine.EngineRedis || target != engine.EngineValkey {
		return api.InvalidParameterCombinationException("Replication group %s runs %s; the engine can only be changed from redis to valkey.", g.ID, g.Engine)
	}
	if !asksOnly(in, func(m *api.ModifyReplicationGroupMessage) {
		m.Engine, m.EngineVersion, m.CacheParameterGroupName = nil, nil, nil
	}) {
		return api.InvalidParameterCombinationException("An engine change takes only EngineVersion, CacheParameterGroupName and ApplyImmediately; make the other modifications of %s in a separate request.", g.ID)
	}
	v, err := s.resolveVersion(target, deref(in.EngineVersion))
	if err != nil {
		return err
	}
	pg := v.DefaultParameterGroup
	if g.ClusterEnabled {
		pg += ".cluster.on"
	}
	if name := deref(in.CacheParameterGroupName); name != "" {
		ref, err := lookupParameterGroup(tx, g.Region, name)
		if err != nil {
			return err
		}
		if ref.Family != v.Family {
			return api.InvalidParameterCombinationException("The parameter group %s has family %s, which does not match %s %s.", ref.Name, ref.Family, target, v.EngineVersion)
		}
		if ref.ClusterEnabled != g.ClusterEnabled {
			return api.InvalidParameterCombinationException("The parameter group %s has cluster-enabled %s, which does not match the cluster mode of %s.", ref.Name, yesNo(ref.ClusterEnabled), g.ID)
		}
		pg = ref.Name
	} else if _, isDefault := defaultParameterGroup(g.ParameterGroup); !isDefault {
		return api.InvalidParameterCombinationException("Replication group %s uses the custom parameter group %s: give a CacheParameterGroupName of family %s for %s %s.", g.ID, g.ParameterGroup, v.Family, target, v.EngineVersion)
	}
	now := deref(in.ApplyImmediately)
	g.EngineChange = &resource.EngineChange{
		Engine: target, EngineVersion: v.EngineVersion, ParameterGroup: pg,
		From: fmt.Sprintf("%s %s", g.Engine, g.EngineVersion), Immediately: now,
	}
	if now {
		g.Status = resource.StatusModifying
	}
	return nil
}
