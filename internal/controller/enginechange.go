package controller

import (
	"context"
	"fmt"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
)

// changeEngine takes the next step of a group's cross-engine upgrade (resource.EngineChange) and reports
// whether one was taken; it is called only when every member runs and every replica is in sync, so the
// members move one at a time. Replicas go first: each restarts under the new engine and syncs again from
// its primary (Valkey loads the Redis OSS replication stream). Then each primary: its writes are paused,
// its dataset saved, and it restarts under the new engine with that dataset, so no acknowledged write is
// lost. Last, the group takes the new engine, version and parameter group.
func (c *Controller) changeEngine(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard) (bool, error) {
	ec := g.EngineChange
	if ec == nil {
		return false, nil
	}
	now := c.cfg.Now().UTC()
	if !ec.Started {
		if !ec.Immediately && !g.InMaintenanceWindow(now) {
			return false, nil
		}
		return true, resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			if g.EngineChange == nil || g.EngineChange.Started {
				return false, nil
			}
			g.EngineChange.Started, g.Status = true, resource.StatusModifying
			return true, nil
		})
	}
	if g.ClusterEnabled {
		// A node that restarted learns the cluster again before the next one goes.
		var nodes []resp.Node
		for _, sh := range shards {
			for _, m := range append([]*member{sh.primary}, sh.replicas...) {
				if m != nil {
					nodes = append(nodes, m.node)
				}
			}
		}
		if ok, why, err := c.engines.ClusterConverged(ctx, nodes); err != nil || !ok {
			c.logger.Debug("engine change waits for the cluster to settle", "group", g.ID, "why", why, "err", err)
			return true, err
		}
	}
	for _, sh := range shards {
		for _, r := range sh.replicas {
			if r.cluster.Engine != ec.Engine {
				c.logger.Info("replica restarting under another engine", "group", g.ID, "cluster", r.cluster.ID, "engine", ec.Engine)
				return true, c.moveToEngine(ctx, r.cluster, ec)
			}
		}
	}
	for _, sh := range shards {
		p := sh.primary
		if p == nil || p.cluster.Engine == ec.Engine {
			continue
		}
		if err := c.engines.PauseAndSave(ctx, p.node, restartPauseTimeout); err != nil {
			return true, fmt.Errorf("replication group %s: %w", g.ID, err)
		}
		if err := c.moveToEngine(ctx, p.cluster, ec); err != nil {
			return true, err
		}
		// Restart now, while writes are paused, rather than when the cluster reconciler gets to it.
		_, err := c.reconcileCluster(ctx, resource.Key(p.cluster.Region, p.cluster.ID))
		c.logger.Info("primary restarted under another engine", "group", g.ID, "cluster", p.cluster.ID, "engine", ec.Engine)
		return true, err
	}
	return true, resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		ec := g.EngineChange
		if ec == nil {
			return false, nil
		}
		msg := fmt.Sprintf("Finished upgrading engine from %s to %s %s", ec.From, ec.Engine, ec.EngineVersion)
		if err := resource.AddEvent(tx, now, 1, g.Region, resource.SourceReplicationGroup, g.ID, msg); err != nil {
			return false, err
		}
		g.Engine, g.EngineVersion, g.ParameterGroup, g.EngineChange = ec.Engine, ec.EngineVersion, ec.ParameterGroup, nil
		return true, nil
	})
}

// moveToEngine gives a member cluster the engine, version and parameter group of an engine change; the
// cluster reconciler restarts its node with the new engine's binary and the new group's values, the
// requires-reboot ones included.
func (c *Controller) moveToEngine(ctx context.Context, cl *resource.Cluster, ec *resource.EngineChange) error {
	next := *cl
	next.ParameterGroup = ec.ParameterGroup
	values, err := c.groupValues(ctx, &next)
	if err != nil {
		return err
	}
	static := staticValues(engine.Family(ec.Engine, ec.EngineVersion), values)
	return resource.Edit(ctx, c.store, resource.KindCluster, resource.Key(cl.Region, cl.ID), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
		if cl.Engine == ec.Engine {
			return false, nil
		}
		for i := range cl.Nodes {
			cl.Nodes[i].StaticValues = static
		}
		cl.Pending.Completion = append(cl.Pending.Completion, fmt.Sprintf("Finished upgrading engine from %s %s to %s %s", cl.Engine, cl.EngineVersion, ec.Engine, ec.EngineVersion))
		cl.Engine, cl.EngineVersion, cl.ParameterGroup, cl.Status = ec.Engine, ec.EngineVersion, ec.ParameterGroup, resource.StatusModifying
		return true, nil
	})
}
