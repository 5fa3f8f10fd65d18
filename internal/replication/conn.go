package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Timeouts of one short-lived engine connection. Each call is also bounded by the caller's context: the
// connection is closed as soon as the context is done.
const (
	dialTimeout = 500 * time.Millisecond
	readTimeout = 2 * time.Second
)

// maxBulk bounds one bulk reply; replication commands never return anything near it.
const maxBulk = 64 << 20

// ErrUnreachable marks a failure to reach an engine or to talk to it: refused or timed-out connection, TLS
// handshake failure, connection closed or timed out mid-reply. A reply from the engine itself (an error such as
// NOAUTH or READONLY) is not ErrUnreachable.
var ErrUnreachable = errors.New("engine unreachable")

// EngineError is an error reply from an engine (a RESP "-" line), such as "READONLY You can't write against a
// read only replica." or "NOAUTH Authentication required.".
type EngineError string

func (e EngineError) Error() string { return string(e) }

// conn is one short-lived RESP2 connection to an engine.
type conn struct {
	nc   net.Conn
	r    *bufio.Reader
	ctx  context.Context
	stop func() bool
}

// dial opens a connection to n, completes the TLS handshake when n.TLS is set and authenticates when
// n.Password is set. The connection is closed when ctx is done; callers close it when they are finished.
func dial(ctx context.Context, n Node) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nc, err := Connect(ctx, n, dialTimeout)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, r: bufio.NewReader(nc), ctx: ctx}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if n.Password != "" {
		if _, err := c.do(0, "AUTH", n.Password); err != nil {
			c.close()
			return nil, fmt.Errorf("auth: %w", err)
		}
	}
	return c, nil
}

// Connect opens a TCP connection to n within timeout and completes the TLS handshake when n.TLS is set
// (server name: n's host unless the configuration names one). Failures are ErrUnreachable. It does not
// authenticate; dial does, for the commands of this package.
func Connect(ctx context.Context, n Node, timeout time.Duration) (net.Conn, error) {
	host, _, err := net.SplitHostPort(n.Addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", n.Addr, err)
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", n.Addr)
	if err != nil {
		return nil, unreachable(ctx, err)
	}
	if n.TLS != nil {
		cfg := n.TLS.Clone()
		if cfg.ServerName == "" {
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

func (c *conn) close() {
	c.stop()
	c.nc.Close()
}

// do sends one command and reads its reply: string (simple or bulk), nil (null bulk or array), int64,
// []any or EngineError (returned as the error). extra lengthens the read timeout for blocking commands.
func (c *conn) do(extra time.Duration, args ...string) (any, error) {
	deadline := time.Now().Add(readTimeout + extra)
	if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, unreachable(c.ctx, err)
	}
	buf := make([]byte, 0, 64)
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(a)), 10)
		buf = append(buf, '\r', '\n')
		buf = append(buf, a...)
		buf = append(buf, '\r', '\n')
	}
	if _, err := c.nc.Write(buf); err != nil {
		return nil, unreachable(c.ctx, err)
	}
	v, err := readReply(c.r)
	if err != nil {
		var ee EngineError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, unreachable(c.ctx, err)
	}
	return v, nil
}

// unreachable wraps a transport error with ErrUnreachable, or returns the context's error when the context
// ended the connection.
func unreachable(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// readReply reads one RESP2 reply. An error reply is returned as EngineError.
func readReply(r *bufio.Reader) (any, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, errors.New("protocol error: empty line")
	}
	body := string(line[1:])
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, EngineError(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("protocol error: integer %q", body)
		}
		return n, nil
	case '$':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil || n < -1 || n > maxBulk {
			return nil, fmt.Errorf("protocol error: bulk length %q", body)
		}
		if n == -1 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return nil, errors.New("protocol error: bulk not terminated by CRLF")
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("protocol error: array length %q", body)
		}
		if n == -1 {
			return nil, nil
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readReply(r)
			var ee EngineError
			switch {
			case errors.As(err, &ee):
				// An error element (e.g. inside EXEC) does not end the array.
				out = append(out, ee)
			case err != nil:
				return nil, err
			default:
				out = append(out, v)
			}
		}
		return out, nil
	default:
		return nil, fmt.Errorf("protocol error: unexpected type byte %q", line[0])
	}
}

// readLine reads a CRLF-terminated line without the CRLF.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("protocol error: line too long")
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errors.New("protocol error: line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

// str returns a reply as a string, or an error naming the command when it is not one.
func str(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("unexpected reply %T, want string", v)
	}
	return s, nil
}

// integer returns a reply as an int64.
func integer(v any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("unexpected reply %T, want integer", v)
	}
	return n, nil
}
