package controller

import (
	"context"

	"github.com/ecache/ecache/internal/metrics"
	"github.com/ecache/ecache/internal/resource"
)

// MetricsTargets lists the node of every cache cluster that has started, for the metrics endpoint: how to
// reach its engine (a durable member's engine directly, behind its endpoint) and, for members of durable
// groups, what the node's endpoint reports of the durability buffer.
func (c *Controller) MetricsTargets(ctx context.Context) ([]metrics.Target, error) {
	objs, err := c.store.List(ctx, resource.KindCluster)
	if err != nil {
		return nil, err
	}
	var out []metrics.Target
	for _, o := range objs {
		cl, err := resource.Unmarshal[resource.Cluster](o.Value)
		if err != nil || cl.Status == resource.StatusDeleting {
			continue
		}
		for i, n := range cl.Nodes {
			if n.Status == resource.NodeCreating || n.Status == resource.NodeDeleting {
				continue
			}
			t := metrics.Target{Region: cl.Region, ClusterID: cl.ID, NodeID: n.ID, GroupID: cl.ReplicationGroupID, Engine: cl.Engine}
			if i == 0 && cl.Engine != "memcached" {
				node := c.directNode(cl)
				t.Addr, t.User, t.Password, t.TLS = node.Addr, node.User, node.Password, node.TLS
			} else {
				t.Addr = n.Addr(c.nodeHost(cl.IPDiscovery))
				if cl.TransitEncryption && !cl.PreferredTLS() {
					if _, client, err := c.tlsConfigs(); err == nil {
						t.TLS = client
					}
				}
			}
			if st, ok := c.listeners.durabilityStats(cl.DriverID(n.ID)); ok {
				t.Durability = &metrics.DurabilityStats{Lag: st.DurabilityLag, BufferExceeded: st.DurabilityBufferExceededErrorCount,
					TrafficManagementActive: st.TrafficManagementActive}
			}
			out = append(out, t)
		}
	}
	return out, nil
}
