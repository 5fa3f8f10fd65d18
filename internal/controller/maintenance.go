package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// applyDuePending applies the modifications that were requested without ApplyImmediately once the
// cluster's maintenance window has come; the cluster then converges like after an immediate change.
func (c *Controller) applyDuePending(ctx context.Context, key string) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindCluster, key, func(tx store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
		if cl.Status != resource.StatusAvailable || cl.Pending.Empty() || !cl.InMaintenanceWindow(now) {
			return false, nil
		}
		p := cl.Pending
		var ports []int
		if p.NumNodes != nil {
			if add := int(*p.NumNodes) - len(cl.Nodes); add > 0 {
				var ok bool
				var err error
				if ports, ok, err = c.cfg.Ports.Allocate(tx, add); err != nil {
					return false, err
				} else if !ok {
					c.logger.Warn("pending scale-out waits for free node ports", "cluster", cl.ID, "nodes", add)
					return false, nil
				}
			}
		}
		seq := 0
		if p.EngineVersion != "" {
			cl.Pending.Completion = append(cl.Pending.Completion, fmt.Sprintf("Finished upgrading engine version from %s to %s", cl.EngineVersion, p.EngineVersion))
			cl.EngineVersion, cl.Pending.EngineVersion = p.EngineVersion, ""
		}
		if p.NodeType != "" {
			cl.Pending.Completion = append(cl.Pending.Completion, fmt.Sprintf("Finished applying modification to cache node type to %s.", p.NodeType))
			cl.NodeType, cl.Pending.NodeType = p.NodeType, ""
		}
		if p.ParameterGroup != "" {
			cl.Pending.Completion = append(cl.Pending.Completion, fmt.Sprintf("Finished applying modification to cache parameter group to %s.", p.ParameterGroup))
			cl.ParameterGroup, cl.Pending.ParameterGroup = p.ParameterGroup, ""
		}
		cl.Status = resource.StatusModifying
		if p.NumNodes != nil {
			msg := "Increasing number of requested nodes"
			if int(*p.NumNodes) < len(cl.Nodes) {
				msg = "Decreasing number of requested nodes"
			}
			seq++
			if err := resource.AddEvent(tx, now, seq, cl.Region, resource.SourceCacheCluster, cl.ID, msg); err != nil {
				return false, err
			}
			cl.BeginScale(int(*p.NumNodes), p.NodeIDsToRemove, p.NewAZs, ports, now)
		}
		return true, groupFollows(tx, cl)
	})
}

// groupFollows gives a member's group the node settings the member took in its maintenance window: a
// group's pending change reaches every member, and the group reports what its members run.
func groupFollows(tx store.Tx, cl *resource.Cluster) error {
	if cl.ReplicationGroupID == "" {
		return nil
	}
	return resource.EditTx(tx, resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID), func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		if g.NodeType == cl.NodeType && g.EngineVersion == cl.EngineVersion && g.ParameterGroup == cl.ParameterGroup {
			return false, nil
		}
		g.NodeType, g.EngineVersion, g.ParameterGroup = cl.NodeType, cl.EngineVersion, cl.ParameterGroup
		return true, nil
	})
}

// startPendingPrimary starts, once the group's maintenance window opens, the planned promotion that a
// ModifyReplicationGroup PrimaryClusterId without ApplyImmediately left pending; due reports that it did.
func (c *Controller) startPendingPrimary(ctx context.Context, key string, g *resource.ReplicationGroup, primary string) (due bool, err error) {
	now := c.cfg.Now().UTC()
	if g.PendingPrimary == "" || g.Status != resource.StatusAvailable || g.Failover != nil || !g.InMaintenanceWindow(now) {
		return false, nil
	}
	err = resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		if g.PendingPrimary == "" || g.Status != resource.StatusAvailable || g.Failover != nil {
			return false, nil
		}
		if g.PendingPrimary != primary {
			g.Failover = &resource.Failover{NodeGroupID: g.NodeGroups[0].ID, From: primary, Target: g.PendingPrimary, StartedAt: now}
			g.Status = resource.StatusModifying
		}
		g.PendingPrimary = ""
		return true, nil
	})
	return err == nil, err
}

// pruneEvents deletes events older than resource.EventRetention.
func (c *Controller) pruneEvents(ctx context.Context) error {
	cutoff := c.cfg.Now().Add(-resource.EventRetention)
	objs, err := c.store.List(ctx, resource.KindEvent)
	if err != nil {
		return err
	}
	var old []string
	for _, o := range objs {
		ev, err := resource.Unmarshal[resource.Event](o.Value)
		if err != nil || ev.Date.Before(cutoff) {
			old = append(old, o.Key)
		}
	}
	if len(old) == 0 {
		return nil
	}
	return c.store.Update(ctx, func(tx store.Tx) error {
		for _, k := range old {
			if err := tx.Delete(resource.KindEvent, k, store.AnyRevision); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}
