// Package metrics publishes the metrics of the cache nodes in the Prometheus text format, under
// ElastiCache's CloudWatch names (EngineCPUUtilization, CacheHits, CurrItems, DurabilityLag, ...) with
// CloudWatch's dimensions as labels (CacheClusterId, CacheNodeId, ReplicationGroupId) and the region.
//
// Each scrape reads every node as it stands: Valkey and Redis OSS through INFO (one connection per node,
// kept between scrapes, so that scraping does not count as new connections), memcached through "stats",
// the host through /proc. CloudWatch's counts per period (CacheHits, NewConnections, NetworkBytesIn, ...)
// are Prometheus counters here, totals since the engine started: rate() or increase() over a minute gives
// CloudWatch's per-minute Sum. Rates that CloudWatch averages over its period (EngineCPUUtilization,
// CPUUtilization) are averaged over the time since the previous scrape (since the engine started, on the
// first one).
package metrics

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Target is one cache node to read.
type Target struct {
	Region, ClusterID, NodeID, GroupID string
	Engine                             string // valkey, redis or memcached
	Addr                               string
	User, Password                     string
	TLS                                *tls.Config
	// Durability is set for a member of a durable group: what its node endpoint reports.
	Durability *DurabilityStats
}

// DurabilityStats are a durable node's own metrics.
type DurabilityStats struct {
	Lag                     time.Duration
	BufferExceeded          uint64
	TrafficManagementActive bool
}

// Targets lists the nodes to read at a scrape.
type Targets func(context.Context) ([]Target, error)

// Collector reads every target at each scrape (a prometheus.Collector).
type Collector struct {
	targets Targets
	timeout time.Duration
	host    hostReader

	// collecting serialises scrapes: a kept engine connection serves one at a time (the metrics endpoint
	// and the console both read).
	collecting sync.Mutex

	mu      sync.Mutex
	engines map[string]*engineConn // by address: connections and CPU samples kept between scrapes
}

// scrapeTimeout bounds the reading of one node; a node that does not answer in time is left out of the
// scrape.
const scrapeTimeout = 500 * time.Millisecond

// parallelReads bounds the nodes read at once.
const parallelReads = 16

// NewCollector returns a collector of the nodes targets lists.
func NewCollector(targets Targets) *Collector {
	return &Collector{targets: targets, timeout: scrapeTimeout, engines: map[string]*engineConn{}}
}

// Handler serves the collector's metrics (and nothing else) in the Prometheus text format.
func Handler(c *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Describe sends nothing: the metrics a scrape has depend on the nodes (an unchecked collector).
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads every target and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collecting.Lock()
	defer c.collecting.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	targets, err := c.targets(ctx)
	if err != nil {
		return
	}
	host := c.host.read()
	sem := make(chan struct{}, parallelReads)
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out := sink{ch: ch, labels: []string{t.Region, t.ClusterID, t.NodeID, t.GroupID}}
			host.emit(out)
			rctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			if t.Engine == "memcached" {
				readMemcached(rctx, t, out)
			} else {
				c.engine(t).read(rctx, t, out)
			}
			if d := t.Durability; d != nil {
				out.gauge("DurabilityLag", float64(d.Lag.Milliseconds()))
				out.counter("DurabilityBufferExceededErrorCount", float64(d.BufferExceeded))
				out.gauge("TrafficManagementActive", boolValue(d.TrafficManagementActive))
			}
		})
	}
	wg.Wait()
	c.forget(targets)
}

// engine returns the kept connection state of a Valkey or Redis OSS target.
func (c *Collector) engine(t Target) *engineConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.engines[t.Addr]
	if e == nil {
		e = &engineConn{}
		c.engines[t.Addr] = e
	}
	return e
}

// forget closes the connections of nodes no longer listed.
func (c *Collector) forget(targets []Target) {
	listed := map[string]bool{}
	for _, t := range targets {
		listed[t.Addr] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for addr, e := range c.engines {
		if !listed[addr] {
			e.close()
			delete(c.engines, addr)
		}
	}
}

// Close closes the connections kept to the engines.
func (c *Collector) Close() {
	c.forget(nil)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// labelNames are the labels of every metric: the region and CloudWatch's dimensions.
var labelNames = []string{"Region", "CacheClusterId", "CacheNodeId", "ReplicationGroupId"}

// descs holds one description per metric name.
var descs sync.Map

func desc(name string) *prometheus.Desc {
	if d, ok := descs.Load(name); ok {
		return d.(*prometheus.Desc)
	}
	d, _ := descs.LoadOrStore(name, prometheus.NewDesc(name, help[name], labelNames, nil))
	return d.(*prometheus.Desc)
}

// sink sends one node's metrics.
type sink struct {
	ch     chan<- prometheus.Metric
	labels []string
}

func (s sink) gauge(name string, v float64) {
	s.ch <- prometheus.MustNewConstMetric(desc(name), prometheus.GaugeValue, v, s.labels...)
}

func (s sink) counter(name string, v float64) {
	s.ch <- prometheus.MustNewConstMetric(desc(name), prometheus.CounterValue, v, s.labels...)
}
