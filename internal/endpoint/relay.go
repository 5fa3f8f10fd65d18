package endpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// dialTimeout bounds one connection attempt to one backend. Backends are
// local engine processes, so a refused connection normally fails at once;
// the timeout only matters for a backend that is hung.
const dialTimeout = 3 * time.Second

// link is one accepted client connection and, once chosen, the backend
// connection it is relayed to. The owner's mutex guards backend and addr.
type link struct {
	client  net.Conn
	backend net.Conn
	addr    string // backend address as configured, "" before a backend is chosen
}

// closeConns closes both sides of a link; safe to call more than once.
func (l *link) closeConns() {
	l.client.Close()
	if l.backend != nil {
		l.backend.Close()
	}
}

// linkSet tracks the live links of one listener so that Close and backend
// changes can end them. The zero value is not usable; see newLinkSet.
type linkSet struct {
	mu     sync.Mutex
	links  map[*link]struct{}
	closed bool
}

func newLinkSet() *linkSet { return &linkSet{links: make(map[*link]struct{})} }

// add registers l; it reports false once the set is closed.
func (s *linkSet) add(l *link) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.links[l] = struct{}{}
	return true
}

func (s *linkSet) remove(l *link) {
	s.mu.Lock()
	delete(s.links, l)
	s.mu.Unlock()
}

// attach records the backend of l unless the set is closed or keep rejects
// the address; keep runs under the set's lock.
func (s *linkSet) attach(l *link, backend net.Conn, addr string, keep func(string) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (keep != nil && !keep(addr)) {
		return false
	}
	l.backend, l.addr = backend, addr
	return true
}

// closeWhere closes every link that has a backend for which match is true.
// match runs under the set's lock.
func (s *linkSet) closeWhere(match func(addr string) bool) int {
	s.mu.Lock()
	var victims []*link
	for l := range s.links {
		if l.backend != nil && match(l.addr) {
			victims = append(victims, l)
		}
	}
	s.mu.Unlock()
	for _, l := range victims {
		l.closeConns()
	}
	return len(victims)
}

// shut marks the set closed and closes every link. It reports false when the
// set was already closed.
func (s *linkSet) shut() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	victims := make([]*link, 0, len(s.links))
	for l := range s.links {
		victims = append(victims, l)
	}
	s.mu.Unlock()
	for _, l := range victims {
		l.closeConns()
	}
	return true
}

// relay copies bytes both ways between client and backend until both
// directions are finished, then closes both connections. prefix is written
// to the backend before anything else (bytes already read from the client).
//
// A clean end of stream in one direction is propagated as a half-close
// (CloseWrite) so that the other direction can still drain; any error ends
// both directions at once. io.Copy between two *net.TCPConn uses splice(2)
// on Linux, so payload bytes do not pass through user space.
func relay(client, backend net.Conn, prefix []byte) {
	abort := func() {
		client.Close()
		backend.Close()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !copyHalf(backend, client, prefix) {
			abort()
		}
	}()
	if !copyHalf(client, backend, nil) {
		abort()
	}
	<-done
	abort()
}

// copyHalf copies src to dst and half-closes dst at end of stream. It
// reports false if the direction ended with an error.
func copyHalf(dst, src net.Conn, prefix []byte) bool {
	if len(prefix) > 0 {
		if _, err := dst.Write(prefix); err != nil {
			return false
		}
	}
	if _, err := io.Copy(dst, src); err != nil {
		return false
	}
	if hc, ok := dst.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite() == nil
	}
	return true
}

// dialBackend dials addr and applies the connection options used for every
// relayed connection.
func dialBackend(ctx context.Context, addr string) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	tuneConn(tc)
	return tc, nil
}

// tuneConn disables Nagle's algorithm: cache traffic is small request and
// reply messages where latency matters more than packet count.
func tuneConn(c *net.TCPConn) {
	_ = c.SetNoDelay(true)
}

// listenTCP opens a TCP listener on addr ("127.0.0.1:0" picks a free port).
func listenTCP(addr string) (*net.TCPListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, errors.New("endpoint: listener is not TCP")
	}
	return tl, nil
}

// acceptLoop accepts connections until ln is closed and runs handle for each
// in its own goroutine counted by wg. The caller must have counted the loop
// itself in wg, which keeps the count above zero while Add is called here.
func acceptLoop(ctx context.Context, ln *net.TCPListener, wg *sync.WaitGroup, logger *slog.Logger, handle func(*net.TCPConn)) {
	defer wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Running out of file descriptors and similar conditions are
			// transient: wait a little and try again.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			logger.Warn("accept failed", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		tuneConn(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(c)
		}()
	}
}

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
