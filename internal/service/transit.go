package service

import (
	"reflect"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// transitModeSupported: TransitEncryptionMode, and changing in-transit encryption of a running group, need
// Valkey or Redis OSS 7.0 or later. An empty engine (a group made from an existing primary, checked later)
// passes.
func transitModeSupported(eng, version string) bool {
	return eng != engine.EngineRedis || engine.CompareVersions(version, "7.0") >= 0
}

// createTransitMode is a new group's TransitEncryptionMode: required by default with in-transit encryption,
// preferred when asked for.
func createTransitMode(g *resource.ReplicationGroup, requested string) (string, error) {
	switch requested {
	case "":
		if g.TransitEncryption {
			return resource.TransitRequired, nil
		}
		return "", nil
	case resource.TransitRequired, resource.TransitPreferred:
	default:
		return "", api.InvalidParameterValueException("Invalid value %q for TransitEncryptionMode. Valid values: preferred, required.", requested)
	}
	if !g.TransitEncryption {
		return "", api.InvalidParameterCombinationException("TransitEncryptionMode requires TransitEncryptionEnabled.")
	}
	if !transitModeSupported(g.Engine, g.EngineVersion) {
		return "", api.InvalidParameterCombinationException("TransitEncryptionMode requires Valkey, or Redis OSS 7.0 or later; the group would run %s %s.", g.Engine, g.EngineVersion)
	}
	return requested, nil
}

// changeTransit records ModifyReplicationGroup's change of in-transit encryption, the two steps ElastiCache
// takes each way: plain to preferred (TransitEncryptionEnabled with TransitEncryptionMode preferred), then
// to required; required back to preferred, then TransitEncryptionEnabled false. The controller moves the
// members one at a time; nodes going to preferred get the engine ports their shared port is split over.
func (s *Service) changeTransit(tx store.Tx, g *resource.ReplicationGroup, in *api.ModifyReplicationGroupMessage) error {
	enabled, mode := g.TransitEncryption, g.TransitEncryptionMode
	if in.TransitEncryptionEnabled != nil {
		enabled = *in.TransitEncryptionEnabled
	}
	if in.TransitEncryptionMode != nil {
		mode = *in.TransitEncryptionMode
	}
	if !enabled {
		mode = ""
	}
	current := g.TransitEncryptionMode
	if !g.TransitEncryption {
		current = ""
	}
	switch {
	case enabled && mode == "":
		return api.InvalidParameterCombinationException("To enable in-transit encryption on replication group %s, set TransitEncryptionMode to preferred.", g.ID)
	case mode != "" && mode != resource.TransitRequired && mode != resource.TransitPreferred:
		return api.InvalidParameterValueException("Invalid value %q for TransitEncryptionMode. Valid values: preferred, required.", mode)
	case mode == current:
		return nil
	case !onlyTransit(in):
		return api.InvalidParameterCombinationException("A change of in-transit encryption takes only TransitEncryptionEnabled, TransitEncryptionMode and ApplyImmediately; make the other modifications of %s in a separate request.", g.ID)
	case !enabled && g.AuthToken != "":
		return api.InvalidParameterCombinationException("Replication group %s has an AUTH token, which needs in-transit encryption.", g.ID)
	case !enabled && in.TransitEncryptionMode != nil:
		return api.InvalidParameterCombinationException("TransitEncryptionMode cannot be set while disabling in-transit encryption.")
	case current == "" && mode != resource.TransitPreferred:
		return api.InvalidParameterCombinationException("To enable in-transit encryption on replication group %s, set TransitEncryptionMode to preferred first; required comes once clients use TLS.", g.ID)
	case current == resource.TransitRequired && mode == "":
		return api.InvalidParameterCombinationException("To disable in-transit encryption on replication group %s, set TransitEncryptionMode to preferred first.", g.ID)
	case !transitModeSupported(g.Engine, g.EngineVersion):
		return api.InvalidParameterCombinationException("Changing in-transit encryption requires Valkey, or Redis OSS 7.0 or later; replication group %s runs %s %s.", g.ID, g.Engine, g.EngineVersion)
	case g.ClusterEnabled:
		return api.InvalidParameterCombinationException("Changing in-transit encryption of a cluster mode enabled replication group is not available on this ecache host: its cluster bus cannot take TLS and plain peers at once.")
	case g.EngineChange != nil:
		return api.InvalidReplicationGroupStateFault("Replication group %s has an engine change waiting for its maintenance window.", g.ID)
	}
	if mode == resource.TransitPreferred {
		if err := s.giveEnginePorts(tx, g); err != nil {
			return err
		}
	}
	g.TransitChange = &resource.TransitChange{Enabled: enabled, Mode: mode}
	g.Status = resource.StatusModifying
	return nil
}

// onlyTransit reports whether a ModifyReplicationGroup request asks for nothing but in-transit encryption.
func onlyTransit(in *api.ModifyReplicationGroupMessage) bool {
	return asksOnly(in, func(m *api.ModifyReplicationGroupMessage) {
		m.TransitEncryptionEnabled, m.TransitEncryptionMode = nil, nil
	})
}

// asksOnly reports whether a ModifyReplicationGroup request sets nothing but the group's id,
// ApplyImmediately and what clear empties: a change that goes alone.
func asksOnly(in *api.ModifyReplicationGroupMessage, clear func(*api.ModifyReplicationGroupMessage)) bool {
	rest := *in
	rest.ReplicationGroupId, rest.ApplyImmediately = nil, nil
	clear(&rest)
	return reflect.ValueOf(rest).IsZero()
}

// giveEnginePorts allocates, to each member node, the two engine ports its port is split over in preferred
// mode.
func (s *Service) giveEnginePorts(tx store.Tx, g *resource.ReplicationGroup) error {
	ports, err := s.allocatePorts(tx, 2*len(g.MemberIDs()))
	if err != nil {
		return err
	}
	return updateMembers(tx, g, func(c *resource.Cluster) error {
		c.Nodes[0].EnginePorts, ports = ports[:2], ports[2:]
		return nil
	})
}
