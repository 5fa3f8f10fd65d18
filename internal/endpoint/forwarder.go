package endpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
)

// Forwarder is an L4 TCP forwarder on a fixed listen address whose backends
// can be re-pointed at runtime. It serves the primary and reader endpoints
// of a replication group, which must keep their address across failover.
//
// New connections are spread round-robin over the backend set; if a backend
// refuses the connection the next one is tried. Established connections are
// relayed byte for byte (splice on Linux) with half-close propagation.
type Forwarder struct {
	ln     *net.TCPListener
	logger *slog.Logger
	ctx    context.Context // cancelled by Close; aborts pending dials
	cancel context.CancelFunc
	wg     sync.WaitGroup
	links  *linkSet

	// backends and next are guarded by links.mu so that a connection is
	// attached to a backend atomically with respect to SetBackends.
	backends []string
	next     uint64
}

// errNoBackend is returned by the dial loop when no backend is configured.
var errNoBackend = errors.New("no backend configured")

// Listen starts a Forwarder on addr ("127.0.0.1:0" picks a free port). It
// has no backends until SetBackends is called; connections accepted before
// that are closed at once. A nil logger discards log output.
func Listen(addr string, logger *slog.Logger) (*Forwarder, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{
		ln:     ln,
		logger: orDiscard(logger).With("endpoint", ln.Addr().String()),
		ctx:    ctx,
		cancel: cancel,
		links:  newLinkSet(),
	}
	f.wg.Add(1)
	go acceptLoop(ctx, ln, &f.wg, f.logger, f.handle)
	return f, nil
}

// Addr is the address the forwarder listens on.
func (f *Forwarder) Addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

// Backends returns a copy of the current backend set.
func (f *Forwarder) Backends() []string {
	f.links.mu.Lock()
	defer f.links.mu.Unlock()
	return slices.Clone(f.backends)
}

// SetBackends replaces the backend set. New connections are spread
// round-robin over addrs (reader endpoints) with dial failover to the next
// backend. With closeExisting, established client connections relayed to a
// backend that is no longer in the set are closed, so that clients reconnect
// and reach the new set (used on failover to move clients to the new
// primary). Connections to backends that stay in the set are never touched.
func (f *Forwarder) SetBackends(addrs []string, closeExisting bool) {
	set := slices.Clone(addrs)
	f.links.mu.Lock()
	old := f.backends
	f.backends = set
	f.links.mu.Unlock()

	f.logger.Info("backends set", "backends", set, "previous", old, "close_existing", closeExisting)
	if !closeExisting {
		return
	}
	n := f.links.closeWhere(func(addr string) bool { return !slices.Contains(f.backends, addr) })
	if n > 0 {
		f.logger.Info("closed connections to removed backends", "count", n)
	}
}

// Close stops listening, closes every relayed connection and waits until all
// goroutines of the forwarder have returned.
func (f *Forwarder) Close() error {
	// Cancel first so that a handler whose attach fails because of Close
	// sees the cancelled context and stops instead of dialing again.
	f.cancel()
	if !f.links.shut() {
		return nil
	}
	err := f.ln.Close()
	f.wg.Wait()
	f.logger.Debug("forwarder closed")
	return err
}

func (f *Forwarder) handle(c *net.TCPConn) {
	l := &link{client: c}
	if !f.links.add(l) {
		c.Close()
		return
	}
	defer f.links.remove(l)

	backend, addr, err := f.connect(l)
	if err != nil {
		if f.ctx.Err() == nil {
			f.logger.Warn("no backend reachable; closing client", "client", c.RemoteAddr().String(), "err", err)
		}
		c.Close()
		return
	}
	f.logger.Debug("relaying", "client", c.RemoteAddr().String(), "backend", addr)
	relay(c, backend, nil)
}

// connect dials a backend for l, starting at the next round-robin position
// and failing over to the following backends. A connection is only kept if
// its backend is still in the set when it is attached; otherwise (the set
// changed while dialing) the choice is made again from the new set.
func (f *Forwarder) connect(l *link) (*net.TCPConn, string, error) {
	inSet := func(addr string) bool { return slices.Contains(f.backends, addr) }
	var lastErr error = errNoBackend
	for round := 0; round < 4; round++ {
		f.links.mu.Lock()
		addrs := f.backends
		start := 0
		if len(addrs) > 0 {
			start = int(f.next % uint64(len(addrs)))
			f.next++
		}
		f.links.mu.Unlock()
		if len(addrs) == 0 {
			return nil, "", errNoBackend
		}

		stale := false
		for i := range addrs {
			addr := addrs[(start+i)%len(addrs)]
			b, err := dialBackend(f.ctx, addr)
			if err != nil {
				if f.ctx.Err() != nil {
					return nil, "", err
				}
				f.logger.Warn("backend dial failed; trying next", "backend", addr, "err", err)
				lastErr = err
				continue
			}
			if f.links.attach(l, b, addr, inSet) {
				return b, addr, nil
			}
			b.Close()
			if f.ctx.Err() != nil {
				return nil, "", net.ErrClosed
			}
			stale = true
			break
		}
		if !stale {
			return nil, "", lastErr
		}
	}
	return nil, "", lastErr
}
