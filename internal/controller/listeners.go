package controller

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/ecache/ecache/internal/durable"
	"github.com/ecache/ecache/internal/endpoint"
	"github.com/ecache/ecache/internal/resource"
)

// Names of a replication group's stable endpoints.
const (
	endpointPrimary = "/primary"
	endpointReader  = "/reader"
	endpointConfig  = "/config"
)

// listeners owns every listener that ecache serves besides its API: the primary, reader and configuration
// endpoints of replication groups (L4 forwarders) and the configuration endpoints of Memcached clusters. The
// reconcilers open, re-point and close them only through it.
type listeners struct {
	logger *slog.Logger

	mu         sync.Mutex
	forwarders map[string]*endpoint.Forwarder               // by group store key + endpoint name
	memcached  map[string]*endpoint.MemcachedConfigEndpoint // by cluster store key
	splitters  map[string]*endpoint.Splitter                // by driver node id
	durables   map[string]*durableListener                  // by driver node id
}

// durableListener is a durable member node's endpoint and what it was opened with.
type durableListener struct {
	ep  *durable.Endpoint
	cfg durable.EndpointConfig
}

func newListeners(logger *slog.Logger) *listeners {
	return &listeners{logger: logger, forwarders: map[string]*endpoint.Forwarder{},
		memcached: map[string]*endpoint.MemcachedConfigEndpoint{}, splitters: map[string]*endpoint.Splitter{},
		durables: map[string]*durableListener{}}
}

func addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// at reports whether a listener listens on host and port.
func at(ln *net.TCPAddr, host string, port int) bool {
	ip := net.ParseIP(host)
	return ln.Port == port && (ip == nil || ip.Equal(ln.IP))
}

// ensureGroup listens at each of a group's endpoints (name → host:port), and closes those it no longer
// has (the primary and reader endpoints of a group that moved to cluster mode enabled, the primary endpoint
// while the primary's engine listens there itself) or has elsewhere (a group whose IpDiscovery changed). An
// endpoint at an own address that an engine still listens on is left for a later pass (the engine leaves
// it first; see placePrimaryAddress).
func (l *listeners) ensureGroup(key string, want map[string]string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range []string{endpointPrimary, endpointReader, endpointConfig} {
		if _, ok := want[name]; !ok && l.forwarders[key+name] != nil {
			_ = l.forwarders[key+name].Close()
			delete(l.forwarders, key+name)
		}
	}
	for name, a := range want {
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			return err
		}
		port, _ := strconv.Atoi(p)
		if fw := l.forwarders[key+name]; fw != nil {
			if at(fw.Addr(), host, port) {
				continue
			}
			_ = fw.Close()
			delete(l.forwarders, key+name)
		}
		fw, err := endpoint.Listen(a, l.logger)
		if _, own := resource.AddressSlot(host); err != nil && own {
			l.logger.Debug("endpoint address still held by an engine", "endpoint", key+name, "addr", a, "err", err)
			continue
		} else if err != nil {
			return err
		}
		l.forwarders[key+name] = fw
	}
	return nil
}

// pointGroup re-points a group's primary and reader endpoints; the reader falls back to the primary without
// replicas. With closeExisting, connections to the old backends are closed (a failover).
func (l *listeners) pointGroup(key, primary string, readers []string, closeExisting bool) {
	l.mu.Lock()
	p, r := l.forwarders[key+endpointPrimary], l.forwarders[key+endpointReader]
	l.mu.Unlock()
	if len(readers) == 0 {
		readers = []string{primary}
	}
	if p != nil && (closeExisting || !slices.Equal(p.Backends(), []string{primary})) {
		p.SetBackends([]string{primary}, closeExisting || len(p.Backends()) > 0)
	}
	if r != nil && !slices.Equal(r.Backends(), readers) {
		r.SetBackends(readers, closeExisting)
	}
}

// pointConfig sends a group's configuration endpoint connections to addrs, in order of preference.
func (l *listeners) pointConfig(key string, addrs []string) {
	l.mu.Lock()
	fw := l.forwarders[key+endpointConfig]
	l.mu.Unlock()
	if fw != nil && len(addrs) > 0 && !slices.Equal(fw.Backends(), addrs) {
		fw.SetBackends(addrs, false)
	}
}

// closeGroup closes every endpoint of a group.
func (l *listeners) closeGroup(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range []string{endpointPrimary, endpointReader, endpointConfig} {
		if fw := l.forwarders[key+name]; fw != nil {
			_ = fw.Close()
			delete(l.forwarders, key+name)
		}
	}
}

// memcachedEndpoint returns a Memcached cluster's configuration endpoint, listening on port with the
// cluster's TLS (nil configurations for plain TCP) when it is not open yet.
func (l *listeners) memcachedEndpoint(key, host string, port int, clientTLS, nodeTLS *tls.Config, binaryVersion string) (*endpoint.MemcachedConfigEndpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ep := l.memcached[key]; ep != nil {
		if at(ep.Addr(), host, port) {
			return ep, nil
		}
		_ = ep.Close() // the cluster's IpDiscovery changed
		delete(l.memcached, key)
	}
	ep, err := endpoint.ListenMemcachedConfigWith(addr(host, port), endpoint.MemcachedConfigOptions{ClientTLS: clientTLS, NodeTLS: nodeTLS}, l.logger)
	if err != nil {
		return nil, fmt.Errorf("configuration endpoint: %w", err)
	}
	ep.SetEngineVersion(binaryVersion)
	l.memcached[key] = ep
	return ep, nil
}

// closeMemcached closes a Memcached cluster's configuration endpoint, if it has one.
func (l *listeners) closeMemcached(key string) { closeEntry(l, l.memcached, key) }

// closeEntry takes a listener out of one of l's maps and closes it, if there is one.
func closeEntry[T interface{ Close() error }](l *listeners, m map[string]T, key string) {
	l.mu.Lock()
	v, ok := m[key]
	delete(m, key)
	l.mu.Unlock()
	if ok {
		_ = v.Close()
	}
}

// ensureSplit listens on host and port for a node that takes TLS and plain connections there, handing them
// to the engine's own listeners plain and tls; a listener elsewhere or to other listeners is replaced.
func (l *listeners) ensureSplit(id, host string, port int, plain, tls string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sp := l.splitters[id]; sp != nil {
		if p, t := sp.Backends(); at(sp.Addr(), host, port) && p == plain && t == tls {
			return nil
		}
		_ = sp.Close()
		delete(l.splitters, id)
	}
	sp, err := endpoint.ListenSplit(addr(host, port), plain, tls, l.logger)
	if err != nil {
		return err
	}
	l.splitters[id] = sp
	return nil
}

// closeSplit closes a node's TLS and plain listener, if it has one.
func (l *listeners) closeSplit(id string) { closeEntry(l, l.splitters, id) }

// ensureDurable keeps a durable member node's endpoint listening as cfg says; one opened otherwise (another
// address, engine or relay) is replaced.
func (l *listeners) ensureDurable(ctx context.Context, id string, cfg durable.EndpointConfig) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.durables[id]; d != nil {
		if d.cfg.Addr == cfg.Addr && d.cfg.Engine.Addr == cfg.Engine.Addr && d.cfg.Relay == cfg.Relay {
			d.ep.SetAsync(cfg.Async)
			d.cfg.Async = cfg.Async
			return nil
		}
		_ = d.ep.Close()
		delete(l.durables, id)
	}
	ep, err := durable.ListenEndpoint(ctx, cfg)
	if err != nil {
		return fmt.Errorf("durable endpoint %s: %w", cfg.Addr, err)
	}
	l.durables[id] = &durableListener{ep: ep, cfg: cfg}
	return nil
}

// setDurabilityMode switches a node's durable endpoint, if it has one, between sync and async.
func (l *listeners) setDurabilityMode(id string, async bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.durables[id]; d != nil {
		d.ep.SetAsync(async)
		d.cfg.Async = async
	}
}

// durabilityStats are a node's durable endpoint's metrics; ok is false when it has none.
func (l *listeners) durabilityStats(id string) (st durable.DurabilityStats, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.durables[id]; d != nil {
		return d.ep.Stats(), true
	}
	return st, false
}

// closeDurable closes a node's durable endpoint, if it has one.
func (l *listeners) closeDurable(id string) {
	l.mu.Lock()
	d := l.durables[id]
	delete(l.durables, id)
	l.mu.Unlock()
	if d != nil {
		_ = d.ep.Close()
	}
}

// closeAll closes every listener; the engines keep running.
func (l *listeners) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, ep := range l.memcached {
		_ = ep.Close()
		delete(l.memcached, key)
	}
	for key, fw := range l.forwarders {
		_ = fw.Close()
		delete(l.forwarders, key)
	}
	for id, sp := range l.splitters {
		_ = sp.Close()
		delete(l.splitters, id)
	}
	for id, d := range l.durables {
		_ = d.ep.Close()
		delete(l.durables, id)
	}
}
