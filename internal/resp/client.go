package resp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrUnreachable marks a failure to reach an engine or to talk to it: refused or timed-out connection, TLS
// handshake failure, connection closed, timed out or out of step mid-reply. An error reply from the engine
// itself (NOAUTH, READONLY...) is an Error, never ErrUnreachable.
var ErrUnreachable = errors.New("engine unreachable")

// Node says how to reach one engine: the one engine address type of ecache.
type Node struct {
	Addr     string      // host:port, or the path of a Unix socket (starting with "/")
	Password string      // AUTH as the default user (or as User) when non-empty
	User     string      // the ACL user to AUTH as; empty: the default user
	TLS      *tls.Config // nil for plain TCP; the server name defaults to Addr's host
}

// Options tune one connection. Zero values take the defaults.
type Options struct {
	DialTimeout    time.Duration // TCP connect and TLS handshake (500 ms)
	ReadTimeout    time.Duration // each reply, unless the call says otherwise (2 s)
	ReadBufferSize int           // the read buffer (4096 bytes)
}

const (
	defaultDialTimeout = 500 * time.Millisecond
	defaultReadTimeout = 2 * time.Second
)

// Conn is one connection to an engine. Each call is bounded by its timeout and by its context: a context
// that ends interrupts the call at once. After a transport failure the connection is unusable: every later
// call returns the same error. A Conn is not safe for concurrent use.
type Conn struct {
	nc     net.Conn
	r      *Reader
	wbuf   []byte
	opts   Options
	broken error
}

// Dial connects to n, completes the TLS handshake when n.TLS is set and authenticates when n.Password is set.
func Dial(ctx context.Context, n Node, opts Options) (*Conn, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = defaultReadTimeout
	}
	nc, err := Connect(ctx, n, opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, r: NewReader(nc, opts.ReadBufferSize), opts: opts}
	if n.Password != "" {
		args := []string{"AUTH", n.Password}
		if n.User != "" {
			args = []string{"AUTH", n.User, n.Password}
		}
		if _, err := c.Do(ctx, args...); err != nil {
			c.Close()
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return c, nil
}

// Connect opens a connection to n (TCP, or a Unix socket) within timeout and completes the TLS handshake when n.TLS is set. It
// does not authenticate. Failures wrap ErrUnreachable, or are the context's error when it ended first.
func Connect(ctx context.Context, n Node, timeout time.Duration) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	network, host := "unix", ""
	if !strings.HasPrefix(n.Addr, "/") {
		var err error
		if host, _, err = net.SplitHostPort(n.Addr); err != nil {
			return nil, fmt.Errorf("address %q: %w", n.Addr, err)
		}
		network = "tcp"
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, network, n.Addr)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	if n.TLS != nil {
		cfg := n.TLS
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, unreachable(ctx, fmt.Errorf("tls handshake: %w", err))
		}
		nc = tc
	}
	return nc, nil
}

// Ping dials n (authenticating when n has a password) and sends PING, all within timeout: nil when the
// engine answers PONG, an Error when it answers with one (NOAUTH, LOADING...), ErrUnreachable otherwise.
func Ping(ctx context.Context, n Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := Dial(ctx, n, Options{DialTimeout: timeout, ReadTimeout: timeout})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Do(ctx, "PING")
	return err
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Do sends one command and reads its reply. An error reply is returned both as the Value and as an Error.
func (c *Conn) Do(ctx context.Context, args ...string) (Value, error) {
	return c.DoTimeout(ctx, c.opts.ReadTimeout, args...)
}

// DoTimeout is Do with its own reply timeout, for commands that block (SAVE, WAIT).
func (c *Conn) DoTimeout(ctx context.Context, timeout time.Duration, args ...string) (Value, error) {
	var out [1]Value
	if err := c.roundTrip(ctx, timeout, out[:], func(b []byte) []byte { return AppendCommand(b, args...) }); err != nil {
		return Value{}, err
	}
	return out[0], out[0].Err()
}

// Pipeline sends every command at once and then reads their replies, in order. Error replies are Values of
// type SimpleError in the result; the error is for transport failures only.
func (c *Conn) Pipeline(ctx context.Context, cmds ...[]string) ([]Value, error) {
	out := make([]Value, len(cmds))
	err := c.roundTrip(ctx, c.opts.ReadTimeout, out, func(b []byte) []byte {
		for _, args := range cmds {
			b = AppendCommand(b, args...)
		}
		return b
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Send writes one command without reading a reply: the reply, or a stream that is not RESP (the dataset a
// SYNC transfers), is read from Reader.
func (c *Conn) Send(ctx context.Context, args ...string) error {
	return c.roundTrip(ctx, c.opts.ReadTimeout, nil, func(b []byte) []byte { return AppendCommand(b, args...) })
}

// Reader is the connection's reader, for what follows Send.
func (c *Conn) Reader() *Reader { return c.r }

// NetConn is the underlying connection, for deadlines of reads made through Reader.
func (c *Conn) NetConn() net.Conn { return c.nc }

// roundTrip writes what appendCmds appends and reads len(out) replies into out, within timeout and ctx.
func (c *Conn) roundTrip(ctx context.Context, timeout time.Duration, out []Value, appendCmds func([]byte) []byte) error {
	if c.broken != nil {
		return c.broken
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return c.fail(ctx, err)
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	c.wbuf = appendCmds(c.wbuf[:0])
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return c.fail(ctx, err)
	}
	for i := range out {
		v, err := c.r.ReadValue()
		if err != nil {
			return c.fail(ctx, err)
		}
		out[i] = v
	}
	return nil
}

// fail marks the connection unusable after a transport error.
func (c *Conn) fail(ctx context.Context, err error) error {
	c.broken = unreachable(ctx, err)
	return c.broken
}

// unreachable wraps a transport error with ErrUnreachable, or returns the context's error when the context
// ended the call.
func unreachable(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded // the read deadline, set to the context's, fired first
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}
