package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
)

// failover moves the primary role of a node group to target, or to its most up-to-date running replica,
// for both cluster modes. With the old primary alive it is a planned promotion (writes paused until the
// replica caught up; in cluster mode a coordinated CLUSTER FAILOVER); without, the old primary failed and the
// best replica takes over at once (in cluster mode without an election: the dead primary is known dead here,
// its process exited or the monitor killed it, and elections wait out the engines' vote lock and need a
// majority of primaries alive).
func (c *Controller) failover(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard, target string) error {
	start := time.Now()
	chosen, err := c.pickReplica(ctx, g, sh.primary, sh.replicas, target)
	if err != nil {
		return err
	}
	switch {
	case g.Durable():
		err = c.failoverThroughLog(ctx, key, g, sh, chosen)
	case g.ClusterEnabled || compatible(g):
		err = c.promoteInCluster(ctx, sh, chosen, sh.primary.running)
	default:
		err = c.promote(ctx, key, g, sh, chosen)
	}
	if err != nil {
		return fmt.Errorf("promoting %s in %s: %w", chosen.cluster.ID, g.ID, err)
	}
	c.logger.Info("failover completed", "group", g.ID, "nodeGroup", sh.id, "from", sh.primary.cluster.ID, "to", chosen.cluster.ID,
		"planned", sh.primary.running, "took", time.Since(start))
	return c.recordFailover(ctx, key, sh.primary.cluster.ID, chosen.cluster.ID)
}

// promote makes chosen the primary of a cluster mode disabled group (REPLICAOF), re-points the other
// replicas and the old primary when it runs, and moves the group's endpoints, closing client connections to
// the old primary.
func (c *Controller) promote(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard, chosen *member) error {
	var others []resp.Node
	var readers []string
	for _, r := range sh.replicas {
		if r != chosen && r.running {
			others = append(others, r.node)
			readers = append(readers, r.node.Addr)
		}
	}
	var old *resp.Node
	if sh.primary.running {
		old = &sh.primary.node
		readers = append(readers, sh.primary.node.Addr)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.engines.Promote(pctx, chosen.node, old, others); err != nil {
		return err
	}
	c.pointEndpoints(ctx, key, g, chosen, append([]*member{sh.primary}, sh.replicas...), readers, true)
	return nil
}

// failoverThroughLog promotes chosen in a durable shard: the log is fenced (the old primary, dead or alive,
// commits nothing more), chosen applies it to its end, takes the shard over (a takeover even from a live
// primary: a coordinated failover compares replication offsets, and the replica's are the log's) and
// leads the log.
func (c *Controller) failoverThroughLog(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard, chosen *member) error {
	if err := c.catchUp(ctx, key, g, sh, chosen); err != nil {
		return err
	}
	if err := c.promoteInCluster(ctx, sh, chosen, false); err != nil {
		return err
	}
	return c.lead(ctx, key, g, sh, chosen)
}

// promoteInCluster makes chosen the primary of its shard with CLUSTER FAILOVER: coordinated with a live
// primary, a takeover of a dead one.
func (c *Controller) promoteInCluster(ctx context.Context, sh shard, chosen *member, coordinated bool) error {
	mode := clustermode.Coordinated
	if !coordinated {
		mode = clustermode.Takeover
	}
	fctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	defer cancel()
	return c.engines.ClusterFailover(fctx, chosen.node, mode)
}

// pickReplica chooses the replica to promote in place of primary: target, or the most up-to-date running
// replica.
func (c *Controller) pickReplica(ctx context.Context, g *resource.ReplicationGroup, primary *member, replicas []*member, target string) (*member, error) {
	var candidates []resp.Node
	var running []*member
	for _, r := range replicas {
		if r.running && (target == "" || r.cluster.ID == target) {
			candidates = append(candidates, r.node)
			running = append(running, r)
		}
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("replication group %s: no running replica to promote in place of %s", g.ID, primary.cluster.ID)
	}
	i, _, err := c.engines.MostUpToDate(ctx, candidates)
	if err != nil {
		return nil, fmt.Errorf("choosing a replica to promote in %s: %w", g.ID, err)
	}
	return running[i], nil
}

// recordFailover records in the group that the primary role moved from one member to another: roles,
// the old primary to recover, and ElastiCache's failover events.
func (c *Controller) recordFailover(ctx context.Context, key, from, to string) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		for n := range cur.NodeGroups {
			ng := &cur.NodeGroups[n]
			for k := range ng.Members {
				switch ng.Members[k].ClusterID {
				case to:
					ng.Members[k].Role = resource.RolePrimary
					if cur.Failover != nil && cur.Failover.NodeGroupID == ng.ID {
						cur.Failover = nil
					}
				case from:
					ng.Members[k].Role = resource.RoleReplica
				}
			}
		}
		if !slices.Contains(cur.Recovering, from) {
			cur.Recovering = append(cur.Recovering, from)
		}
		msg := fmt.Sprintf("Failover from primary node %s to replica node %s completed", from, to)
		if err := resource.AddEvent(tx, now, 1, cur.Region, resource.SourceCacheCluster, to, msg); err != nil {
			return false, err
		}
		if err := resource.AddEvent(tx, now, 2, cur.Region, resource.SourceReplicationGroup, cur.ID, msg); err != nil {
			return false, err
		}
		return true, resource.AddEvent(tx, now, 3, cur.Region, resource.SourceCacheCluster, from, "Recovering cache nodes 0001")
	})
}
