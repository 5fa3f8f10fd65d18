package console

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/metrics"
)

// chartMetrics are the metrics each node's charts show; rates are per second of a counter.
var chartMetrics = []struct {
	name, unit string
	rate       bool
}{
	{"EngineCPUUtilization", "%", false},
	{"CurrConnections", "", false},
	{"BytesUsedForCache", "bytes", false},
	{"GetTypeCmds", "/s", true},
	{"SetTypeCmds", "/s", true},
}

const (
	historyLength  = 60                     // samples kept per node
	sampleInterval = 900 * time.Millisecond // pages reloaded sooner than this share a sample
	chartWidth     = 160
	chartHeight    = 36
)

// sample is one reading of a node's metrics.
type sample struct {
	at     time.Time
	values map[string]float64
}

// nodeCharts is one node's charts, as the page shows them.
type nodeCharts struct {
	ClusterID, NodeID string
	Charts            []chart
}

// chart is one metric of one node over the kept samples.
type chart struct {
	Metric, Last string
	Points       string // the SVG polyline's points
	Width        int
	Height       int
}

// sampleMetrics reads every node's metrics unless the last reading is recent, keeping historyLength
// readings per node.
func (c *Console) sampleMetrics() {
	if c.Metrics == nil {
		return
	}
	c.mu.Lock()
	recent := c.now().Sub(c.lastSample) < sampleInterval
	if !recent {
		c.lastSample = c.now()
	}
	c.mu.Unlock()
	if recent {
		return
	}
	values, err := c.Metrics()
	if err != nil {
		c.Logger.Warn("console: reading metrics", "err", err)
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.history == nil {
		c.history = map[metrics.NodeKey][]sample{}
	}
	for k, v := range values {
		h := append(c.history[k], sample{at: now, values: v})
		c.history[k] = h[max(0, len(h)-historyLength):]
	}
	for k := range c.history {
		if _, ok := values[k]; !ok {
			delete(c.history, k) // a node that is gone
		}
	}
}

// charts are the charts of region rg's nodes, by cluster and node id.
func (c *Console) charts(rg string) []nodeCharts {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []nodeCharts
	for k, h := range c.history {
		if k.Region != rg || len(h) == 0 {
			continue
		}
		n := nodeCharts{ClusterID: k.ClusterID, NodeID: k.NodeID}
		for _, m := range chartMetrics {
			n.Charts = append(n.Charts, drawChart(m.name, m.unit, m.rate, h))
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b nodeCharts) int { return strings.Compare(a.ClusterID+"/"+a.NodeID, b.ClusterID+"/"+b.NodeID) })
	return out
}

// drawChart scales one metric's samples (or their rate) into the chart's box, the latest to the right.
func drawChart(name, unit string, rate bool, h []sample) chart {
	type point struct{ at, v float64 }
	var pts []point
	for i, s := range h {
		v, ok := s.values[name]
		if !ok {
			continue
		}
		if rate {
			if i == 0 {
				continue
			}
			prev, ok := h[i-1].values[name]
			dt := s.at.Sub(h[i-1].at).Seconds()
			if !ok || dt <= 0 {
				continue
			}
			v = max(0, (v-prev)/dt)
		}
		pts = append(pts, point{float64(s.at.UnixMilli()), v})
	}
	ch := chart{Metric: name, Width: chartWidth, Height: chartHeight, Last: "no data"}
	if len(pts) == 0 {
		return ch
	}
	lo, hi := pts[0].v, pts[0].v
	for _, p := range pts {
		lo, hi = min(lo, p.v), max(hi, p.v)
	}
	if hi == lo {
		hi = lo + 1
	}
	t0, t1 := pts[0].at, pts[len(pts)-1].at
	var b strings.Builder
	for i, p := range pts {
		x := float64(chartWidth)
		if t1 > t0 {
			x = (p.at - t0) / (t1 - t0) * chartWidth
		}
		y := chartHeight - (p.v-lo)/(hi-lo)*(chartHeight-2) - 1
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	ch.Points = b.String()
	ch.Last = strings.TrimSpace(fmt.Sprintf("%.4g %s", pts[len(pts)-1].v, unit))
	return ch
}
