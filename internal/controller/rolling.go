package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
)

// memberChange is a change that a group's members take one at a time, each restarting its engine: another
// engine (resource.EngineChange) or another in-transit encryption setting (resource.TransitChange).
type memberChange struct {
	name string
	// has reports whether a member cluster has the change already.
	has func(cl *resource.Cluster) bool
	// give records it on a member cluster (in its store edit); the cluster reconciler restarts the node.
	give func(cl *resource.Cluster)
	// primariesFirst moves each shard's primary before its replicas.
	primariesFirst bool
	// finish records it on the group once every member has it, and says what the closing event says.
	finish func(g *resource.ReplicationGroup) string
}

// groupChange is the member change a group has under way, if any.
func (c *Controller) groupChange(ctx context.Context, g *resource.ReplicationGroup) (*memberChange, error) {
	switch {
	case g.EngineChange != nil:
		return c.engineChange(ctx, g)
	case g.TransitChange != nil:
		return transitChange(g.TransitChange), nil
	}
	return nil, nil
}

// rollMembers takes the next step of a group's member change and reports whether one was taken; it is
// called only when every member runs and every replica is in sync (and, in cluster mode, the cluster is
// settled), so the members move one at a time. A replica restarts under the change and syncs again from its
// primary. A primary's writes are paused and its dataset saved first, so that it restarts with every
// acknowledged write. Last, the group takes the change.
func (c *Controller) rollMembers(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard) (bool, error) {
	change, err := c.groupChange(ctx, g)
	if change == nil || err != nil {
		return false, err
	}
	if ec := g.EngineChange; ec != nil && !ec.Started {
		return true, resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			if g.EngineChange == nil || g.EngineChange.Started {
				return false, nil
			}
			g.EngineChange.Started, g.Status = true, resource.StatusModifying
			return true, nil
		})
	}
	if g.ClusterEnabled {
		var nodes []resp.Node
		for _, sh := range shards {
			for _, m := range append([]*member{sh.primary}, sh.replicas...) {
				if m != nil {
					nodes = append(nodes, m.node)
				}
			}
		}
		if ok, why, err := c.engines.ClusterConverged(ctx, nodes); err != nil || !ok {
			c.logger.Debug("member change waits for the cluster to settle", "group", g.ID, "change", change.name, "why", why, "err", err)
			return true, err
		}
	}
	if change.primariesFirst {
		if moved, err := c.movePrimary(ctx, g, shards, change); moved || err != nil {
			return true, err
		}
	}
	for _, sh := range shards {
		for _, r := range sh.replicas {
			if !change.has(r.cluster) {
				c.logger.Info("replica restarting for a member change", "group", g.ID, "cluster", r.cluster.ID, "change", change.name)
				return true, c.giveChange(ctx, r.cluster, change)
			}
		}
	}
	if moved, err := c.movePrimary(ctx, g, shards, change); moved || err != nil {
		return true, err
	}
	now := c.cfg.Now().UTC()
	return true, resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		if g.EngineChange == nil && g.TransitChange == nil {
			return false, nil // finished by an earlier pass
		}
		msg := change.finish(g)
		return true, resource.AddEvent(tx, now, 1, g.Region, resource.SourceReplicationGroup, g.ID, msg)
	})
}

// movePrimary moves the first primary that lacks the change, with its saved dataset, and reports whether
// there was one.
func (c *Controller) movePrimary(ctx context.Context, g *resource.ReplicationGroup, shards []shard, change *memberChange) (bool, error) {
	for _, sh := range shards {
		p := sh.primary
		if p == nil || change.has(p.cluster) {
			continue
		}
		start := time.Now()
		if err := c.engines.PauseAndSave(ctx, p.node, restartPauseTimeout); err != nil {
			return true, fmt.Errorf("replication group %s: %w", g.ID, err)
		}
		if err := c.giveChange(ctx, p.cluster, change); err != nil {
			return true, err
		}
		// Restart now, while writes are paused, rather than when the cluster reconciler gets to it.
		_, err := c.reconcileCluster(ctx, resource.Key(p.cluster.Region, p.cluster.ID))
		c.logger.Info("primary restarted for a member change", "group", g.ID, "cluster", p.cluster.ID, "change", change.name, "took", time.Since(start))
		return true, err
	}
	return false, nil
}

// giveChange records a member change on one member cluster, which goes modifying until its node is back.
func (c *Controller) giveChange(ctx context.Context, cl *resource.Cluster, change *memberChange) error {
	return resource.Edit(ctx, c.store, resource.KindCluster, resource.Key(cl.Region, cl.ID), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
		if change.has(cl) {
			return false, nil
		}
		change.give(cl)
		cl.Status = resource.StatusModifying
		return true, nil
	})
}

// engineChange is a cross-engine upgrade as a member change; it starts at once with ApplyImmediately, else
// in the group's maintenance window (nil until then).
func (c *Controller) engineChange(ctx context.Context, g *resource.ReplicationGroup) (*memberChange, error) {
	ec := g.EngineChange
	if !ec.Started && !ec.Immediately && !g.InMaintenanceWindow(c.cfg.Now().UTC()) {
		return nil, nil
	}
	// The new parameter group's values, the requires-reboot ones included, take effect at the restart.
	values, err := c.groupValues(ctx, &resource.Cluster{Region: g.Region, ParameterGroup: ec.ParameterGroup})
	if err != nil {
		return nil, err
	}
	static := staticValues(engine.Family(ec.Engine, ec.EngineVersion), values)
	return &memberChange{
		name: "engine " + ec.Engine,
		has:  func(cl *resource.Cluster) bool { return cl.Engine == ec.Engine },
		give: func(cl *resource.Cluster) {
			for i := range cl.Nodes {
				cl.Nodes[i].StaticValues = static
			}
			cl.Pending.Completion = append(cl.Pending.Completion, fmt.Sprintf("Finished upgrading engine from %s %s to %s %s", cl.Engine, cl.EngineVersion, ec.Engine, ec.EngineVersion))
			cl.Engine, cl.EngineVersion, cl.ParameterGroup = ec.Engine, ec.EngineVersion, ec.ParameterGroup
		},
		finish: func(g *resource.ReplicationGroup) string {
			ec := g.EngineChange
			g.Engine, g.EngineVersion, g.ParameterGroup, g.EngineChange = ec.Engine, ec.EngineVersion, ec.ParameterGroup, nil
			return fmt.Sprintf("Finished upgrading engine from %s to %s %s", ec.From, ec.Engine, ec.EngineVersion)
		},
	}, nil
}

// transitChange is a change of in-transit encryption as a member change.
func transitChange(tc *resource.TransitChange) *memberChange {
	mode := tc.Mode
	if !tc.Enabled {
		mode = ""
	}
	return &memberChange{
		name: "in-transit encryption " + transitName(tc.Enabled, mode),
		has: func(cl *resource.Cluster) bool {
			return cl.TransitEncryption == tc.Enabled && (!tc.Enabled || cl.TransitEncryptionMode == mode)
		},
		give: func(cl *resource.Cluster) {
			cl.TransitEncryption, cl.TransitEncryptionMode = tc.Enabled, mode
			if mode != resource.TransitPreferred {
				for i := range cl.Nodes {
					cl.Nodes[i].EnginePorts = nil // back to one listener, the engine's own
				}
			}
		},
		primariesFirst: mode == resource.TransitPreferred,
		finish: func(g *resource.ReplicationGroup) string {
			g.TransitEncryption, g.TransitEncryptionMode, g.TransitChange = tc.Enabled, mode, nil
			return "Finished modifying in-transit encryption to " + transitName(tc.Enabled, mode)
		},
	}
}

// transitName is how events name an in-transit encryption setting.
func transitName(enabled bool, mode string) string {
	if !enabled {
		return "disabled"
	}
	return "enabled, mode " + mode
}
