package service

import (
	"reflect"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Cluster modes of a replication group.
const (
	clusterModeDisabled   = "disabled"
	clusterModeCompatible = "compatible"
	clusterModeEnabled    = "enabled"
)

// changeClusterMode is ModifyReplicationGroup with a new ClusterMode: disabled → compatible (the engines
// restart in cluster mode as one shard that serves every slot, reachable through the primary, reader and
// configuration endpoints alike), then compatible → enabled (the group becomes a one-shard cluster mode
// enabled group: the configuration endpoint only). ElastiCache allows no way back.
func (s *Service) changeClusterMode(tx store.Tx, g *resource.ReplicationGroup, in *api.ModifyReplicationGroupMessage) error {
	mode := strings.ToLower(deref(in.ClusterMode))
	others := *in
	others.ReplicationGroupId, others.ClusterMode, others.CacheParameterGroupName, others.ApplyImmediately = nil, nil, nil, nil
	switch {
	case mode != clusterModeDisabled && mode != clusterModeCompatible && mode != clusterModeEnabled:
		return api.InvalidParameterValueException("Invalid value %q for ClusterMode: use enabled, disabled or compatible.", deref(in.ClusterMode))
	case !reflect.ValueOf(others).IsZero():
		return api.InvalidParameterCombinationException("Only CacheParameterGroupName may be modified together with ClusterMode.")
	case g.ClusterMode == clusterModeEnabled || mode == clusterModeDisabled:
		return api.InvalidParameterCombinationException("Cluster mode of replication group %s cannot be changed from %s to %s: it only moves from disabled to compatible to enabled.", g.ID, g.ClusterMode, mode)
	case g.ClusterMode == clusterModeDisabled && mode == clusterModeEnabled:
		return api.InvalidParameterCombinationException("Replication group %s must be set to cluster mode compatible before cluster mode enabled.", g.ID)
	}
	if mode == clusterModeEnabled {
		if in.CacheParameterGroupName != nil {
			return api.InvalidParameterCombinationException("CacheParameterGroupName cannot be changed when cluster mode moves from compatible to enabled.")
		}
		// The engines already run as a one-shard cluster: only the endpoints change.
		g.ClusterMode, g.ClusterEnabled = clusterModeEnabled, true
		g.PrimaryPort, g.ReaderPort = 0, 0 // the controller takes PrimaryAddress from the primary, then clears it
		g.Status = resource.StatusModifying
		return nil
	}

	// disabled → compatible.
	minimum := map[string]string{engine.EngineValkey: "7.2", engine.EngineRedis: "7.0"}[g.Engine]
	members := g.MemberIDs()
	switch {
	case engine.CompareVersions(g.EngineVersion, minimum) < 0:
		return api.InvalidParameterCombinationException("Cluster mode compatible needs %s %s or later; replication group %s runs %s.", g.Engine, minimum, g.ID, g.EngineVersion)
	case !g.AutomaticFailover || len(members) < 2:
		return api.InvalidParameterCombinationException("Cluster mode compatible needs automatic failover enabled and at least one replica.")
	}
	pgName := g.ParameterGroup
	if in.CacheParameterGroupName != nil {
		pgName = *in.CacheParameterGroupName
	} else if _, ok := defaultParameterGroup(pgName); ok && !strings.HasSuffix(pgName, ".cluster.on") {
		pgName += ".cluster.on"
	}
	pg, err := lookupParameterGroup(tx, g.Region, pgName)
	if err != nil {
		return err
	}
	family := engine.Family(g.Engine, g.EngineVersion)
	switch {
	case pg.Family != family:
		return api.InvalidParameterCombinationException("The parameter group %s has family %s, which does not match the group's family %s.", pg.Name, pg.Family, family)
	case !pg.ClusterEnabled:
		return api.InvalidParameterCombinationException("Cluster mode compatible needs a parameter group with cluster-enabled yes; %s has no.", pg.Name)
	}
	// A configuration endpoint, and a cluster bus port for every member.
	ports, err := s.allocatePorts(tx, 1+len(members))
	if err != nil {
		return err
	}
	g.ConfigPort, ports = ports[0], ports[1:]
	// The controller turns each engine to cluster mode in turn: replicas first, the primary last.
	err = updateMembers(tx, g, func(c *resource.Cluster) error {
		c.Nodes[0].BusPort, ports = ports[0], ports[1:]
		c.ParameterGroup = pg.Name
		return nil
	})
	if err != nil {
		return err
	}
	g.ParameterGroup = pg.Name
	g.ClusterMode = clusterModeCompatible
	g.Formed = false
	g.NodeGroups[0].Slots = hashslot.Format(hashslot.Even(1)[0])
	g.Status, g.NodeGroups[0].Status = resource.StatusModifying, resource.StatusModifying
	return nil
}

// errCompatible refuses changes to a group in cluster mode compatible other than moving on to enabled.
func errCompatible(g *resource.ReplicationGroup) error {
	return api.InvalidParameterCombinationException("Replication group %s is in cluster mode compatible: set ClusterMode to enabled before other modifications.", g.ID)
}
