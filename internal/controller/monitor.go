package controller

import (
	"context"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resource"
)

const (
	monitorInterval = 200 * time.Millisecond
	pingTimeout     = 300 * time.Millisecond
	// maxMissedPings is how many pings in a row a primary may miss before it counts as hung: with the
	// ping timeout, about a second and a half of silence.
	maxMissedPings = 3
)

// monitor watches the primaries of replication groups with automatic failover. A dead engine is reported
// by the driver at once; a hung one (alive but not answering) is noticed here and killed, so that the
// group's reconciler promotes a replica exactly as for a crash.
func (c *Controller) monitor(ctx context.Context) {
	missed := map[string]int{}
	every(ctx, monitorInterval, func() { c.pingPrimaries(ctx, missed) })
}

// pingPrimaries pings the primary of every node group that can fail over, counting in missed the pings in
// a row each one has not answered, and kills the ones that missed maxMissedPings.
func (c *Controller) pingPrimaries(ctx context.Context, missed map[string]int) {
	objs, err := c.store.List(ctx, resource.KindReplicationGroup)
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, o := range objs {
		g, err := resource.Unmarshal[resource.ReplicationGroup](o.Value)
		if err != nil || !g.AutomaticFailover || (g.Status != resource.StatusAvailable && g.Status != resource.StatusModifying) {
			continue
		}
		for _, ng := range g.NodeGroups {
			if len(ng.Members) < 2 {
				continue // nothing to fail over to
			}
			cl := c.memberCluster(ctx, g.Region, ng.Primary())
			if cl == nil {
				continue
			}
			id := cl.DriverID(cl.Nodes[0].ID)
			seen[id] = true
			if c.primaryAnswers(ctx, cl) {
				delete(missed, id)
				continue
			}
			if missed[id]++; missed[id] >= maxMissedPings {
				delete(missed, id)
				c.killHungPrimary(ctx, g, cl)
			}
		}
	}
	for id := range missed {
		if !seen[id] {
			delete(missed, id)
		}
	}
}

// primaryAnswers pings the group's primary engine; any reply (even an AUTH error) means it is alive.
// A primary that is not running counts as answering: the driver already reported it.
func (c *Controller) primaryAnswers(ctx context.Context, cl *resource.Cluster) bool {
	st, err := c.driver.Peek(ctx, cl.DriverID(cl.Nodes[0].ID))
	if err != nil || st.State != driver.StateRunning {
		return true
	}
	return c.engines.Ping(ctx, c.directNode(cl), pingTimeout)
}

// memberCluster reads a member cluster with at least one node, or nil.
func (c *Controller) memberCluster(ctx context.Context, region, id string) *resource.Cluster {
	cl, _, err := resource.Load[resource.Cluster](ctx, c.store, resource.KindCluster, resource.Key(region, id))
	if err != nil || len(cl.Nodes) == 0 {
		return nil
	}
	return cl
}

// killHungPrimary ends a primary engine that stopped answering; the driver then reports its exit.
func (c *Controller) killHungPrimary(ctx context.Context, g *resource.ReplicationGroup, cl *resource.Cluster) {
	id := cl.DriverID(cl.Nodes[0].ID)
	c.logger.Warn("primary engine is not answering; killing it to fail over", "group", g.ID, "cluster", cl.ID, "node", id)
	if err := c.driver.Kill(ctx, id); err != nil {
		c.logger.Error("killing a hung primary", "node", id, "err", err)
	}
}
