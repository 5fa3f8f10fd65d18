package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// restartPauseTimeout bounds how long a primary's writes stay paused while it saves its dataset and
// restarts (in cluster mode, or under another engine); the restart normally ends the pause much sooner.
const restartPauseTimeout = 20 * time.Second

// compatible reports whether g is cluster mode compatible: one shard whose engines run in cluster mode,
// served through the primary, reader and configuration endpoints alike.
func compatible(g *resource.ReplicationGroup) bool {
	return !g.ClusterEnabled && g.ClusterMode == "compatible"
}

// toClusterMode turns the engines of a group that moved to cluster mode compatible into cluster mode, and
// reports whether that is done. Replicas go first: each restarts empty, since its data comes back from the
// primary once the cluster forms. The primary goes last: its writes are paused, its dataset saved, and it
// restarts in cluster mode with that dataset, so no acknowledged write is lost. Meanwhile the reader
// endpoint serves from the primary.
func (c *Controller) toClusterMode(ctx context.Context, key string, g *resource.ReplicationGroup, members []member) (bool, error) {
	var primary *member
	var pending []*member
	started := false
	for i := range members {
		m := &members[i]
		if m.role == resource.RolePrimary {
			primary = m
		}
		if m.cluster.ClusterMode {
			started = true
		} else {
			pending = append(pending, m)
		}
	}
	if len(pending) == 0 {
		return true, nil
	}
	if primary == nil || !primary.running {
		return false, nil // wait for the primary's engine
	}
	c.pointEndpoints(ctx, key, g, primary, pending, nil, false)
	if !started {
		// Cluster mode has database 0 only.
		dbs, err := c.engines.Databases(ctx, primary.node)
		if err != nil {
			return false, fmt.Errorf("replication group %s: %w", g.ID, err)
		}
		for _, db := range dbs {
			if db != 0 {
				return false, c.abandonCompatible(ctx, key, fmt.Sprintf("keys in database %d; cluster mode has database 0 only", db))
			}
		}
	}
	var waiting bool
	for _, m := range pending {
		if m == primary {
			continue
		}
		// The engine and its data go; the cluster reconciler starts it again, empty, in cluster mode.
		if err := c.driver.Remove(ctx, m.cluster.DriverID(m.cluster.Nodes[0].ID)); err != nil {
			return false, err
		}
		if err := setClusterMode(ctx, c.store, resource.Key(m.cluster.Region, m.cluster.ID)); err != nil {
			return false, err
		}
		c.logger.Info("replica restarting in cluster mode", "group", g.ID, "cluster", m.cluster.ID)
		waiting = true
	}
	if waiting {
		return false, nil
	}
	for _, m := range members {
		if m.role != resource.RolePrimary && !m.running {
			return false, nil // replicas first
		}
	}
	start := time.Now()
	if err := c.engines.PauseAndSave(ctx, primary.node, restartPauseTimeout); err != nil {
		return false, fmt.Errorf("replication group %s: %w", g.ID, err)
	}
	ckey := resource.Key(primary.cluster.Region, primary.cluster.ID)
	if err := setClusterMode(ctx, c.store, ckey); err != nil {
		return false, err
	}
	// Restart now, while writes are paused, rather than when the cluster reconciler gets to it.
	if _, err := c.reconcileCluster(ctx, ckey); err != nil {
		return false, err
	}
	c.logger.Info("primary restarted in cluster mode", "group", g.ID, "cluster", primary.cluster.ID, "took", time.Since(start))
	return false, nil
}

// setClusterMode marks a member cluster's engine as one that runs in cluster mode.
func setClusterMode(ctx context.Context, st store.Store, key string) error {
	return resource.Edit(ctx, st, resource.KindCluster, key, func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
		if cl.ClusterMode {
			return false, nil
		}
		cl.ClusterMode = true
		return true, nil
	})
}

// abandonCompatible puts a group whose engines cannot run in cluster mode back to cluster mode disabled,
// before any engine changed, with an event that says why.
func (c *Controller) abandonCompatible(ctx context.Context, key, reason string) error {
	now := c.cfg.Now().UTC()
	c.logger.Warn("cluster mode compatible abandoned", "group", key, "reason", reason)
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		if !compatible(g) {
			return false, nil
		}
		pg := strings.TrimSuffix(g.ParameterGroup, ".cluster.on")
		for _, id := range g.MemberIDs() {
			err := resource.EditTx(tx, resource.KindCluster, resource.Key(g.Region, id), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
				cl.Nodes[0].BusPort = 0
				if strings.HasSuffix(cl.ParameterGroup, ".cluster.on") {
					cl.ParameterGroup = pg
				}
				return true, nil
			})
			if err != nil {
				return false, err
			}
		}
		if strings.HasSuffix(g.ParameterGroup, ".cluster.on") {
			g.ParameterGroup = pg
		}
		g.ClusterMode, g.ConfigPort, g.NodeGroups[0].Slots = "disabled", 0, ""
		return true, resource.AddEvent(tx, now, 1, g.Region, resource.SourceReplicationGroup, g.ID, fmt.Sprintf("Failed to modify cluster mode of replication group %s to compatible: %s", g.ID, reason))
	})
}
