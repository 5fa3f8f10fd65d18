package endpoint

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tlsHandshakeRecord is the first byte of every TLS connection: the record type of the ClientHello.
const tlsHandshakeRecord = 0x16

// firstByteTimeout bounds how long a new connection may stay silent before the splitter gives up on it:
// Valkey, Redis OSS and Memcached clients speak first, so the first byte decides where a connection goes.
const firstByteTimeout = time.Minute

// Splitter serves one node port on which the engine takes both TLS and plain connections
// (TransitEncryptionMode preferred): it reads each connection's first byte and relays the connection to the
// engine's TLS listener when it opens a TLS handshake, to its plain listener otherwise. The engine itself
// does the TLS.
type Splitter struct {
	ln         *net.TCPListener
	logger     *slog.Logger
	plain, tls string
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	links      *linkSet
}

// ListenSplit starts a Splitter on addr that relays to the engine listeners plain and tls.
func ListenSplit(addr, plain, tls string, logger *slog.Logger) (*Splitter, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Splitter{ln: ln, logger: orDiscard(logger).With("endpoint", ln.Addr().String()), plain: plain, tls: tls,
		ctx: ctx, cancel: cancel, links: newLinkSet()}
	s.wg.Add(1)
	go acceptLoop(ctx, ln, &s.wg, s.logger, s.handle)
	return s, nil
}

// Addr is the address the splitter listens on.
func (s *Splitter) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Backends are the engine listeners it relays to: plain, then TLS.
func (s *Splitter) Backends() (plain, tls string) { return s.plain, s.tls }

// Close stops listening, closes every relayed connection and waits for its goroutines.
func (s *Splitter) Close() error {
	s.cancel()
	if !s.links.shut() {
		return nil
	}
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *Splitter) handle(c *net.TCPConn) {
	l := &link{client: c}
	if !s.links.add(l) {
		c.Close()
		return
	}
	defer s.links.remove(l)
	first := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(firstByteTimeout))
	if _, err := c.Read(first); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	addr := s.plain
	if first[0] == tlsHandshakeRecord {
		addr = s.tls
	}
	b, err := dialBackend(s.ctx, addr)
	if err != nil {
		s.logger.Warn("engine listener unreachable; closing client", "client", c.RemoteAddr().String(), "backend", addr, "err", err)
		c.Close()
		return
	}
	if !s.links.attach(l, b, addr, func(string) bool { return true }) {
		b.Close()
		c.Close()
		return
	}
	relay(c, b, first)
}
