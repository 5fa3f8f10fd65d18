package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// NodeKey names one node's metrics.
type NodeKey struct{ Region, ClusterID, NodeID string }

// Values reads every target once, as a scrape does, and returns each node's metrics by name (counters
// as their running totals).
func (c *Collector) Values() (map[NodeKey]map[string]float64, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	families, err := reg.Gather()
	if err != nil && len(families) == 0 {
		return nil, err
	}
	out := map[NodeKey]map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var k NodeKey
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "Region":
					k.Region = l.GetValue()
				case "CacheClusterId":
					k.ClusterID = l.GetValue()
				case "CacheNodeId":
					k.NodeID = l.GetValue()
				}
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			if out[k] == nil {
				out[k] = map[string]float64{}
			}
			out[k][f.GetName()] = v
		}
	}
	return out, nil
}
