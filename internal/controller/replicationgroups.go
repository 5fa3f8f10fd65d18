package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/ecache/ecache/internal/resp"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// member is a replication group member as the reconciler sees it.
type member struct {
	cluster   *resource.Cluster
	nodeGroup string
	role      string
	node      resp.Node
	running   bool // the engine process runs
}

// engineNode is how the controller reaches the engine of a cluster's first node.
func (c *Controller) engineNode(cl *resource.Cluster) (resp.Node, error) {
	n := resp.Node{Addr: cl.Nodes[0].Addr(c.nodeHost(cl.IPDiscovery)), Password: cl.AuthToken}
	if cl.ACLSecret != "" {
		n.User, n.Password = resource.ControlUserName, cl.ACLSecret
	}
	if cl.TransitEncryption {
		_, client, err := c.tlsConfigs()
		if err != nil {
			return n, err
		}
		n.TLS = client
	}
	return n, nil
}

// replicationSource is how replica reaches its primary at node: over TLS only when the replica takes TLS
// alone. A replica that takes plain connections (no in-transit encryption, or preferred) replicates in
// plain, which its primary takes then: members move into preferred primaries first and out of it replicas
// first.
func replicationSource(primary resp.Node, replica *resource.Cluster) resp.Node {
	if !replica.TransitEncryption || replica.PreferredTLS() {
		primary.TLS = nil
	}
	return primary
}

// members loads the group's member clusters with their roles and process state.
func (c *Controller) members(ctx context.Context, key string, g *resource.ReplicationGroup) ([]member, error) {
	var out []member
	for _, ng := range g.NodeGroups {
		for _, m := range ng.Members {
			ckey := resource.Key(g.Region, m.ClusterID)
			c.mu.Lock()
			c.groupOf[ckey] = key
			c.mu.Unlock()
			cl, _, err := resource.Load[resource.Cluster](ctx, c.store, resource.KindCluster, ckey)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			if len(cl.Nodes) == 0 {
				continue
			}
			node, err := c.engineNode(cl)
			if err != nil {
				return nil, err
			}
			st, err := c.driver.Peek(ctx, cl.DriverID(cl.Nodes[0].ID))
			running := err == nil && st.State == driver.StateRunning
			out = append(out, member{cluster: cl, nodeGroup: ng.ID, role: m.Role, node: node, running: running})
		}
	}
	return out, nil
}

// stayDown reports whether cl's node must stay down if its process dies: it is the primary of a group with
// automatic failover, and a replica has to be promoted first (driver.NodeSpec.StayDown).
func (c *Controller) stayDown(ctx context.Context, cl *resource.Cluster) bool {
	if cl.ReplicationGroupID == "" || cl.Status == resource.StatusCreating {
		return false
	}
	g, _, err := resource.Load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
	if err != nil || !g.AutomaticFailover || g.Status == resource.StatusDeleting || g.Migration != nil || (g.ClusterEnabled || compatible(g)) && !g.Formed {
		return false
	}
	for _, ng := range g.NodeGroups {
		if ng.Primary() == cl.ID && len(ng.Members) > 1 {
			return true
		}
	}
	return false
}

// replicaOfFormedCluster reports whether cl is a replica member of a formed cluster mode group, whose data can
// come back from its shard's primary.
func (c *Controller) replicaOfFormedCluster(ctx context.Context, cl *resource.Cluster) bool {
	if cl.ReplicationGroupID == "" || !cl.ClusterMode {
		return false
	}
	g, _, err := resource.Load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
	if err != nil || !g.Formed {
		return false
	}
	for _, ng := range g.NodeGroups {
		if slices.ContainsFunc(ng.Members, func(m resource.Member) bool { return m.ClusterID == cl.ID && m.Role == resource.RoleReplica }) {
			return true
		}
	}
	return false
}

// reconcileReplicationGroup converges one group: stable endpoints, replication, failover, status.
func (c *Controller) reconcileReplicationGroup(ctx context.Context, key string) (bool, error) {
	g, rev, found, err := load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, key)
	if err != nil {
		return false, err
	}
	if !found {
		c.listeners.closeGroup(key)
		return false, nil
	}
	if g.Status == resource.StatusDeleting {
		return c.finishGroupDeletion(ctx, key, g)
	}
	if g.Status == resource.StatusCreateFailed {
		c.listeners.closeGroup(key)
		return false, nil // its members stop their engines; it waits to be deleted
	}
	if g.Status == resource.StatusCreating {
		if failed, err := c.failCreation(ctx, key, g); failed || err != nil {
			return err != nil, err
		}
	}
	if err := c.listeners.ensureGroup(key, c.groupEndpoints(g)); err != nil {
		return true, fmt.Errorf("endpoints of %s: %w", g.ID, err)
	}
	if g.UserGroupsPending != nil {
		return true, c.finishUserGroupChange(ctx, key, g, rev)
	}
	if g.MigrationTest != "" {
		return true, c.tryMigrationSource(ctx, key, g)
	}
	if g.ClusterEnabled {
		if g.PrimaryAddress != "" {
			return true, c.dropPrimaryAddress(ctx, key, g)
		}
		return c.reconcileShardedGroup(ctx, key, g, rev)
	}
	members, err := c.members(ctx, key, g)
	if err != nil {
		return true, err
	}
	if compatible(g) {
		if done, err := c.toClusterMode(ctx, key, g, members); !done || err != nil {
			return true, err
		}
		return c.reconcileShardedGroup(ctx, key, g, rev)
	}
	shards := shardsOf(g, members)
	if len(shards) == 0 || shards[0].primary == nil {
		return true, fmt.Errorf("replication group %s has no primary member", g.ID)
	}
	sh := shards[0]
	primary, replicas := sh.primary, sh.replicas
	if due, err := c.startPendingPrimary(ctx, key, g, sh.primary.cluster.ID); due || err != nil {
		return true, err
	}

	// A dead primary with automatic failover: promote the most up-to-date replica first.
	if g.AutomaticFailover && g.Migration == nil && !primary.running && primary.cluster.Status != resource.StatusCreating {
		return true, c.failover(ctx, key, g, sh, "")
	}
	// A requested failover (TestFailover): a planned promotion, the old primary stays alive.
	if g.Failover != nil {
		return true, c.failover(ctx, key, g, sh, g.Failover.Target)
	}

	// An online migration: the primary follows the source until CompleteMigration.
	if g.Migration != nil {
		if ended, err := c.followSource(ctx, key, g, sh); ended || err != nil {
			return true, err
		}
	}

	// Replication: every running replica follows the primary.
	ready := primary.running && primary.cluster.Status == resource.StatusAvailable
	var readers []string
	for _, r := range replicas {
		if !r.running || !primary.running {
			ready = false
			continue
		}
		st, err := c.engines.Inspect(ctx, r.node)
		if err != nil {
			ready = false
			continue
		}
		if st.Role == replication.RolePrimary || st.MasterAddr != primary.node.Addr {
			if err := c.engines.Attach(ctx, r.node, replicationSource(primary.node, r.cluster)); err != nil {
				c.logger.Warn("attaching replica", "group", g.ID, "replica", r.cluster.ID, "err", err)
			}
			ready = false
			continue
		}
		if !st.LinkUp || st.SyncInProgress || r.cluster.Status != resource.StatusAvailable {
			ready = false
			continue
		}
		readers = append(readers, r.node.Addr)
		if slices.Contains(g.Recovering, r.cluster.ID) {
			if err := c.finishRecovery(ctx, key, r.cluster.ID); err != nil {
				return true, err
			}
		}
	}
	c.pointEndpoints(ctx, key, g, primary, replicas, readers, false)
	if !ready || g.Migration != nil {
		return true, nil // check again soon: replicas are still syncing, or the migration's link is watched
	}
	if busy, err := c.rollMembers(ctx, key, g, shards); busy || err != nil {
		return true, err
	}
	return false, c.markGroupAvailable(ctx, key, rev)
}

// groupEndpoints are where ecache listens for a group's stable endpoints (name → host:port): primary and
// reader, the configuration endpoint, or all three while the group is cluster mode compatible. The primary
// endpoint is left out while the primary's engine listens there itself (primaryDirect).
func (c *Controller) groupEndpoints(g *resource.ReplicationGroup) map[string]string {
	host := c.nodeHost(g.IPDiscovery)
	out := map[string]string{}
	if g.PrimaryPort != 0 {
		if !primaryDirect(g) {
			out[endpointPrimary] = addr(cmp.Or(g.PrimaryAddress, host), g.PrimaryPort)
		}
		out[endpointReader] = addr(host, g.ReaderPort)
	}
	if g.ConfigPort != 0 {
		out[endpointConfig] = addr(host, g.ConfigPort)
	}
	return out
}

// primaryDirect reports whether the primary's engine listens at g's PrimaryEndpoint itself, so that clients
// reach it with no hop: a group with own addresses whose members take clients on their own port. While ecache
// listens on the members' ports in front of their engines (in-transit encryption preferred, or a change of
// it under way) its forwarder listens at the endpoint's address instead.
func primaryDirect(g *resource.ReplicationGroup) bool {
	return g.PrimaryAddress != "" && !g.Fronted() && g.TransitChange == nil
}

// dropPrimaryAddress takes the PrimaryEndpoint's address from the members of a group that has no
// PrimaryEndpoint any more (cluster mode enabled, from compatible), then forgets it.
func (c *Controller) dropPrimaryAddress(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	members, err := c.members(ctx, key, g)
	if err != nil {
		return err
	}
	var all []*member
	for i := range members {
		all = append(all, &members[i])
	}
	if err := c.placePrimaryAddress(ctx, g, nil, all); err != nil {
		return err
	}
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		changed := cur.PrimaryAddress != "" && cur.PrimaryPort == 0
		if changed {
			cur.PrimaryAddress = ""
		}
		return changed, nil
	})
}

// pointEndpoints points a group's primary and reader endpoints at primary and readers: its engine takes the
// PrimaryEndpoint's address (placePrimaryAddress) or ecache's forwarder points there. With closeExisting,
// client connections to the old primary through the forwarder are closed (a failover).
func (c *Controller) pointEndpoints(ctx context.Context, key string, g *resource.ReplicationGroup, primary *member, others []*member, readers []string, closeExisting bool) {
	if err := c.placePrimaryAddress(ctx, g, primary, others); err != nil {
		c.logger.Warn("placing the primary endpoint's address", "group", g.ID, "err", err)
	}
	c.listeners.pointGroup(key, primary.node.Addr, readers, closeExisting)
}

// placePrimaryAddress makes the engine of primary alone listen at g's PrimaryEndpoint address while the
// endpoint is direct, and no engine while ecache's forwarder listens there: the others leave it first, so that
// at a failover the old primary (when alive) drops its clients of the endpoint before the new one takes it.
func (c *Controller) placePrimaryAddress(ctx context.Context, g *resource.ReplicationGroup, primary *member, others []*member) error {
	if g.PrimaryAddress == "" {
		return nil
	}
	own := func(m *member) string { host, _, _ := net.SplitHostPort(m.node.Addr); return host }
	var errs error
	for _, m := range others {
		if m != primary && m.running {
			errs = errors.Join(errs, c.engines.Listen(ctx, m.node, []string{own(m)}))
		}
	}
	if errs != nil || primary == nil || !primary.running {
		return errs
	}
	want := []string{own(primary)}
	if primaryDirect(g) {
		want = append(want, g.PrimaryAddress)
	}
	return c.engines.Listen(ctx, primary.node, want)
}

// finishRecovery records that a former primary is back as a synced replica.
func (c *Controller) finishRecovery(ctx context.Context, key, clusterID string) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		i := slices.Index(g.Recovering, clusterID)
		if i < 0 {
			return false, nil
		}
		g.Recovering = slices.Delete(g.Recovering, i, i+1)
		return true, resource.AddEvent(tx, now, 1, g.Region, resource.SourceCacheCluster, clusterID, "Finished recovery for cache nodes 0001")
	})
}

// markGroupAvailable moves a settled group to available, unless it changed since the reconcile read it.
func (c *Controller) markGroupAvailable(ctx context.Context, key string, observed int64) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, g *resource.ReplicationGroup, rev int64) (bool, error) {
		if rev != observed || g.Status == resource.StatusAvailable && g.NodeGroups[0].Status == resource.StatusAvailable {
			return false, nil
		}
		if g.Status == resource.StatusCreating {
			if err := resource.AddEvent(tx, now, 1, g.Region, resource.SourceReplicationGroup, g.ID, "Replication group "+g.ID+" created"); err != nil {
				return false, err
			}
		}
		g.Status = resource.StatusAvailable
		for i := range g.NodeGroups {
			g.NodeGroups[i].Status = resource.StatusAvailable
		}
		return true, nil
	})
}

// finishGroupDeletion removes the group once its member clusters (being deleted by the cluster
// reconciler) are gone; a retained primary stays as a standalone cluster.
func (c *Controller) finishGroupDeletion(ctx context.Context, key string, g *resource.ReplicationGroup) (bool, error) {
	for _, id := range g.MemberIDs() {
		cl, _, err := resource.Load[resource.Cluster](ctx, c.store, resource.KindCluster, resource.Key(g.Region, id))
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return true, err
		}
		if cl.ReplicationGroupID == g.ID {
			return true, nil // still being deleted
		}
	}
	c.listeners.closeGroup(key)
	if err := c.closeDurableGroup(ctx, key, g); err != nil {
		return true, err
	}
	now := c.cfg.Now().UTC()
	return false, resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, _ *resource.ReplicationGroup, rev int64) (bool, error) {
		if err := tx.Delete(resource.KindReplicationGroup, key, rev); err != nil {
			return false, err
		}
		return false, resource.AddEvent(tx, now, 1, g.Region, resource.SourceReplicationGroup, g.ID, "Replication group "+g.ID+" deleted")
	})
}
