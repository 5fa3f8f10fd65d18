package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ecache/ecache/internal/resp"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const (
	// clusterOpTimeout bounds one cluster-mode operation (forming, adding a shard or a replica, a failover).
	clusterOpTimeout = time.Minute
	// reshardChunk is how many slots one reconcile pass moves, so that failovers and progress reports come
	// between chunks of a long resharding.
	reshardChunk = 512
)

// shard is one node group's members as the reconciler sees them.
type shard struct {
	id       string
	primary  *member
	replicas []*member
}

// shardsOf groups the members by node group, in the group's order.
func shardsOf(g *resource.ReplicationGroup, members []member) []shard {
	out := make([]shard, len(g.NodeGroups))
	for i, ng := range g.NodeGroups {
		out[i].id = ng.ID
		for k := range members {
			m := &members[k]
			if m.nodeGroup != ng.ID {
				continue
			}
			if m.role == resource.RolePrimary {
				out[i].primary = m
			} else {
				out[i].replicas = append(out[i].replicas, m)
			}
		}
	}
	return out
}

// stateOf finds the shard the cluster reports with m as its primary.
func stateOf(states []clustermode.ShardState, m *member) (clustermode.ShardState, bool) {
	if m == nil {
		return clustermode.ShardState{}, false
	}
	i := slices.IndexFunc(states, func(st clustermode.ShardState) bool { return st.PrimaryAddr == m.node.Addr })
	if i < 0 {
		return clustermode.ShardState{}, false
	}
	return states[i], true
}

// reconcileShardedGroup converges a cluster mode enabled group: failovers first, then forming the cluster,
// keeping every member in its shard, resharding, the configuration endpoint and the status.
func (c *Controller) reconcileShardedGroup(ctx context.Context, key string, g *resource.ReplicationGroup, rev int64) (bool, error) {
	members, err := c.members(ctx, key, g)
	if err != nil {
		return true, err
	}
	shards := shardsOf(g, members)
	if !g.Formed {
		c.pointConfigEndpoint(key, g, members, nil) // no cluster yet: every running member
	}
	if g.Durable() {
		if err := c.ensureShardLogs(ctx, key, g); err != nil {
			return true, err
		}
		if err := c.retireShardLogs(ctx, key, g); err != nil {
			return true, err
		}
		c.applyDurabilityMode(key, g, members)
	}

	// A dead primary with a running replica: promote the replica before anything else.
	for _, sh := range shards {
		p := sh.primary
		if g.Formed && p != nil && !p.running && p.cluster.Status != resource.StatusCreating && slices.ContainsFunc(sh.replicas, func(r *member) bool { return r.running }) {
			return true, c.failover(ctx, key, g, sh, "")
		}
	}
	if f := g.Failover; f != nil && g.Formed {
		i := slices.IndexFunc(shards, func(sh shard) bool { return sh.id == f.NodeGroupID })
		if i < 0 || shards[i].primary == nil {
			return true, fmt.Errorf("replication group %s: failover of unknown node group %s", g.ID, f.NodeGroupID)
		}
		return true, c.failover(ctx, key, g, shards[i], f.Target)
	}
	if g.Durable() {
		// Before the cluster forms, too: replicas join it from the relay, which serves the checkpoint the
		// primary's shipper takes.
		if err := c.leadShards(ctx, key, g, shards); err != nil {
			return true, err
		}
	}
	if !g.Formed {
		return true, c.formCluster(ctx, key, g, shards)
	}

	seed := seedOf(g, shards)
	if seed == nil {
		return true, nil // no primary runs: wait for the engines to restart
	}
	states, err := c.engines.ClusterInspect(ctx, seed.node)
	if err != nil {
		return true, err
	}
	c.pointConfigEndpoint(key, g, members, states)
	ready, err := c.forgetStrangers(ctx, g, members)
	if err != nil {
		return true, err
	}
	for _, sh := range shards {
		ok, err := c.checkShard(ctx, key, g, sh, states, seed)
		if err != nil {
			return true, err
		}
		ready = ready && ok
	}
	if err := c.recordSlots(ctx, key, g, shards, states); err != nil {
		return true, err
	}
	if compatible(g) {
		c.pointCompatibleEndpoints(ctx, key, g, shards[0])
	}
	if !ready {
		return true, nil // members still starting or syncing
	}
	if g.Resharding != nil {
		return true, c.reshardStep(ctx, key, g, shards, states, seed) // the next pass takes the next step
	}
	if busy, err := c.rollMembers(ctx, key, g, shards); busy || err != nil {
		return true, err
	}
	return false, c.markGroupAvailable(ctx, key, rev)
}

// seedOf picks a running primary to ask about the cluster, outside the shards being removed.
func seedOf(g *resource.ReplicationGroup, shards []shard) *member {
	for _, sh := range shards {
		if sh.primary != nil && sh.primary.running && (g.Resharding == nil || !slices.Contains(g.Resharding.Remove, sh.id)) {
			if ng := g.NodeGroup(sh.id); ng != nil && ng.Slots != "" {
				return sh.primary
			}
		}
	}
	return nil
}

// forgetStrangers takes nodes that are no longer members (replicas removed by DecreaseReplicaCount) out of
// the cluster, and reports whether there were none.
func (c *Controller) forgetStrangers(ctx context.Context, g *resource.ReplicationGroup, members []member) (bool, error) {
	keep := make([]resp.Node, len(members))
	for i := range members {
		keep[i] = members[i].node
	}
	cctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	defer cancel()
	forgotten, err := c.engines.ClusterForget(cctx, keep)
	if err != nil {
		return false, fmt.Errorf("replication group %s: %w", g.ID, err)
	}
	if len(forgotten) > 0 {
		c.logger.Info("removed nodes forgotten by the cluster", "group", g.ID, "nodes", forgotten)
	}
	return len(forgotten) == 0, nil
}

// pointCompatibleEndpoints points the primary and reader endpoints of a cluster mode compatible group at
// its one shard: the primary, and the replicas in sync with it.
func (c *Controller) pointCompatibleEndpoints(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard) {
	if sh.primary == nil || !sh.primary.running {
		return
	}
	var readers []string
	for _, r := range sh.replicas {
		if !r.running {
			continue
		}
		if st, err := c.engines.Inspect(ctx, r.node); err == nil && st.Role == replication.RoleReplica && st.MasterAddr == sh.primary.node.Addr && st.LinkUp && !st.SyncInProgress {
			readers = append(readers, r.node.Addr)
		}
	}
	c.pointEndpoints(ctx, key, g, sh.primary, sh.replicas, readers, false)
}

// pointConfigEndpoint sends configuration endpoint connections to the running members, primaries first,
// leaving out those that are not serving in the cluster yet: members being recovered (an old primary back
// with an empty dataset) and, when states are known, members the cluster does not list (a replica that
// restarted afresh), which would tell a client that no node serves any slot.
func (c *Controller) pointConfigEndpoint(key string, g *resource.ReplicationGroup, members []member, states []clustermode.ShardState) {
	listed := func(addr string) bool {
		return slices.ContainsFunc(states, func(st clustermode.ShardState) bool {
			return st.PrimaryAddr == addr || slices.Contains(st.Replicas, addr)
		})
	}
	var addrs, replicas []string
	for _, m := range members {
		switch {
		case !m.running || m.cluster.Status == resource.StatusCreating || slices.Contains(g.Recovering, m.cluster.ID):
		case states != nil && !listed(m.node.Addr):
		case m.role == resource.RolePrimary:
			addrs = append(addrs, m.node.Addr)
		default:
			replicas = append(replicas, m.node.Addr)
		}
	}
	addrs = append(addrs, replicas...)
	c.listeners.pointConfig(key, addrs)
}

// formCluster joins the members of a new group into one cluster once all of them run: each primary gets
// its node group's slots and the replicas follow their primaries.
func (c *Controller) formCluster(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard) error {
	var specs []clustermode.ShardSpec
	for i, sh := range shards {
		if sh.primary == nil || !sh.primary.running {
			return nil
		}
		slots, err := hashslot.Parse(g.NodeGroups[i].Slots)
		if err != nil {
			return fmt.Errorf("replication group %s node group %s: %w", g.ID, sh.id, err)
		}
		spec := clustermode.ShardSpec{Primary: sh.primary.node, Slots: slots}
		for _, r := range sh.replicas {
			if !r.running {
				return nil
			}
			spec.Replicas = append(spec.Replicas, r.node)
		}
		specs = append(specs, spec)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	defer cancel()
	if err := c.engines.ClusterCreate(cctx, specs); err != nil {
		return fmt.Errorf("forming the cluster of %s: %w", g.ID, err)
	}
	c.logger.Info("cluster formed", "group", g.ID, "shards", len(specs), "took", time.Since(start))
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		cur.Formed = true
		return true, nil
	})
}

// checkShard keeps one node group's members in its shard: it records a primary the engines elected on
// their own, brings replicas that follow no one or someone else back to their primary, and reports whether
// every member runs and every replica is in sync. A node group that is not in the cluster yet (added by a
// scale-out) is left to reshardStep.
func (c *Controller) checkShard(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard, states []clustermode.ShardState, seed *member) (bool, error) {
	all := append([]*member{sh.primary}, sh.replicas...)
	// The engine primary is the member the cluster lists as a primary; one serving slots wins over one
	// without (an old primary back from a crash claims nothing until it follows the new one).
	var enginePrimary *member
	var state clustermode.ShardState
	for _, m := range all {
		if m == nil || !m.running {
			continue
		}
		if st, ok := stateOf(states, m); ok && (enginePrimary == nil || len(state.Slots) == 0 && len(st.Slots) > 0) {
			enginePrimary, state = m, st
		}
	}
	if enginePrimary == nil {
		// Not in the cluster: a node group added by a resharding, which reshardStep adds once all of its
		// members run.
		ng := g.NodeGroup(sh.id)
		if g.Resharding == nil || ng == nil || ng.Slots != "" {
			return false, nil
		}
		for _, m := range all {
			if m == nil || !m.running || m.cluster.Status != resource.StatusAvailable {
				return false, nil
			}
		}
		return true, nil
	}
	if sh.primary == nil {
		return false, nil // the primary's member cluster is not readable
	}
	if enginePrimary != sh.primary {
		// Only a primary that became a replica (or stopped) has lost its role: an old primary back from a
		// crash also calls itself primary for a moment, until it hears of the new one.
		if sh.primary.running {
			if st, err := c.engines.Inspect(ctx, sh.primary.node); err != nil || st.Role != replication.RoleReplica {
				return false, nil
			}
		}
		c.logger.Info("the engines promoted a replica", "group", g.ID, "nodeGroup", sh.id, "from", sh.primary.cluster.ID, "to", enginePrimary.cluster.ID)
		return false, c.recordFailover(ctx, key, sh.primary.cluster.ID, enginePrimary.cluster.ID)
	}
	ready := sh.primary.cluster.Status == resource.StatusAvailable
	for _, r := range sh.replicas {
		if !r.running {
			ready = false
			continue
		}
		if !slices.Contains(state.Replicas, r.node.Addr) {
			c.logger.Info("attaching replica to its shard", "group", g.ID, "nodeGroup", sh.id, "replica", r.cluster.ID)
			cctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
			err := c.engines.ClusterAddReplica(cctx, seed.node, sh.primary.node, r.node)
			cancel()
			if err != nil {
				c.logger.Warn("attaching replica", "group", g.ID, "replica", r.cluster.ID, "err", err)
			}
			ready = false
			continue
		}
		st, err := c.engines.Inspect(ctx, r.node)
		if err != nil || !st.LinkUp || st.SyncInProgress || r.cluster.Status != resource.StatusAvailable {
			ready = false
			continue
		}
		if slices.Contains(g.Recovering, r.cluster.ID) {
			if err := c.finishRecovery(ctx, key, r.cluster.ID); err != nil {
				return false, err
			}
		}
	}
	return ready, nil
}

// recordSlots writes the slots each node group's primary serves into the group, when they differ from
// what g records.
func (c *Controller) recordSlots(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard, states []clustermode.ShardState) error {
	served := map[string]string{}
	for _, sh := range shards {
		if st, ok := stateOf(states, sh.primary); ok {
			if slots := hashslot.Format(st.Slots); slots != g.NodeGroup(sh.id).Slots {
				served[sh.id] = slots
			}
		}
	}
	if len(served) == 0 {
		return nil
	}
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		changed := false
		for i := range cur.NodeGroups {
			ng := &cur.NodeGroups[i]
			if slots, ok := served[ng.ID]; ok && slots != ng.Slots {
				ng.Slots, changed = slots, true
			}
		}
		return changed, nil
	})
}

// reshardStep does one step of an online resharding: add a new shard to the cluster, or move up to
// reshardChunk slots with their keys, or take a drained shard out, or close the resharding.
func (c *Controller) reshardStep(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard, states []clustermode.ShardState, seed *member) error {
	r := g.Resharding
	inCluster := func(sh shard) bool {
		_, ok := stateOf(states, sh.primary)
		return ok
	}
	cctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	defer cancel()

	// New shards join without slots.
	for _, sh := range shards {
		if inCluster(sh) || slices.Contains(r.Remove, sh.id) {
			continue
		}
		spec := clustermode.ShardSpec{Primary: sh.primary.node}
		for _, rep := range sh.replicas {
			spec.Replicas = append(spec.Replicas, rep.node)
		}
		start := time.Now()
		if err := c.engines.ClusterAddShard(cctx, seed.node, spec); err != nil {
			return fmt.Errorf("adding node group %s to %s: %w", sh.id, g.ID, err)
		}
		c.logger.Info("shard added", "group", g.ID, "nodeGroup", sh.id, "took", time.Since(start))
		return nil
	}

	// Slots move, a chunk per pass.
	current := make([][]hashslot.Range, len(shards))
	target := make([][]hashslot.Range, len(shards))
	for i, sh := range shards {
		if st, ok := stateOf(states, sh.primary); ok {
			current[i] = st.Slots
		}
		t, err := hashslot.Parse(r.Target[sh.id])
		if err != nil {
			return fmt.Errorf("resharding %s: target of node group %s: %w", g.ID, sh.id, err)
		}
		target[i] = t
	}
	if moves := hashslot.PlanMoves(current, target); len(moves) > 0 {
		m := moves[0]
		slots := m.Slots
		if slots.Len() > reshardChunk {
			slots.End = slots.Start + reshardChunk - 1
		}
		from, to := shards[m.From].primary, shards[m.To].primary
		start := time.Now()
		if err := c.engines.MoveSlots(cctx, seed.node, from.node, to.node, slots, nil); err != nil {
			return fmt.Errorf("resharding %s: moving slots %s from %s to %s: %w", g.ID, slots, shards[m.From].id, shards[m.To].id, err)
		}
		c.logger.Info("slots moved", "group", g.ID, "slots", slots.String(), "from", shards[m.From].id, "to", shards[m.To].id, "took", time.Since(start))
		return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
			if cur.Resharding == nil {
				return false, nil
			}
			cur.Resharding.MovedSlots = min(cur.Resharding.MovedSlots+slots.Len(), cur.Resharding.TotalSlots)
			return true, nil
		})
	}

	// Drained shards leave the cluster; their member clusters are deleted.
	for _, sh := range shards {
		if !slices.Contains(r.Remove, sh.id) {
			continue
		}
		if inCluster(sh) {
			var reps []resp.Node
			for _, rep := range sh.replicas {
				reps = append(reps, rep.node)
			}
			c.logger.Info("removing shard", "group", g.ID, "nodeGroup", sh.id)
			if err := c.engines.ClusterRemoveShard(cctx, seed.node, sh.primary.node, reps); err != nil {
				return fmt.Errorf("removing node group %s from %s: %w", sh.id, g.ID, err)
			}
		}
		return c.dropNodeGroup(ctx, key, sh.id)
	}

	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		if cur.Resharding == nil {
			return false, nil
		}
		cur.Resharding = nil
		return true, resource.AddEvent(tx, now, 1, cur.Region, resource.SourceReplicationGroup, cur.ID, fmt.Sprintf("Completed online resharding of replication group %s: %d node groups", cur.ID, len(cur.NodeGroups)))
	})
}

// dropNodeGroup deletes a removed node group's member clusters and takes it out of the group.
func (c *Controller) dropNodeGroup(ctx context.Context, key, id string) error {
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		ng := g.NodeGroup(id)
		if ng == nil {
			return false, nil
		}
		for _, m := range ng.Members {
			err := resource.EditTx(tx, resource.KindCluster, resource.Key(g.Region, m.ClusterID), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
				cl.MarkDeleting()
				return true, nil
			})
			if err != nil {
				return false, err
			}
		}
		g.NodeGroups = slices.DeleteFunc(g.NodeGroups, func(n resource.NodeGroup) bool { return n.ID == id })
		if g.Resharding != nil {
			g.Resharding.Remove = slices.DeleteFunc(g.Resharding.Remove, func(s string) bool { return s == id })
		}
		return true, nil
	})
}
