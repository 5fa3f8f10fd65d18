// Package memcache is the one way ecache speaks memcached's text protocol to a node: a request and its
// first reply line (or the statistics), over TCP or TLS, bounded by the caller's context. The driver's
// readiness probe, the configuration endpoints' version query and auto-discovery seeding, and the metrics
// use it. A leaf package.
package memcache

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// RoundTrip connects to addr (completing a TLS handshake when cfg is set), writes req and returns the first
// reply line without its terminator. ctx bounds the whole exchange and interrupts it when it ends.
func RoundTrip(ctx context.Context, addr string, cfg *tls.Config, req []byte) (string, error) {
	var line string
	err := exchange(ctx, addr, cfg, req, func(r *bufio.Reader) (err error) {
		line, err = readLine(r)
		return err
	})
	return line, err
}

// Stats asks the node at addr for its general statistics ("stats") and returns them by name.
func Stats(ctx context.Context, addr string, cfg *tls.Config) (map[string]string, error) {
	out := map[string]string{}
	err := exchange(ctx, addr, cfg, []byte("stats\r\n"), func(r *bufio.Reader) error {
		for {
			line, err := readLine(r)
			if err != nil {
				return err
			}
			if line == "END" {
				return nil
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "STAT" {
				return fmt.Errorf("stats: unexpected reply %q", line)
			}
			out[f[1]] = f[2]
		}
	})
	return out, err
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// exchange connects to addr, writes req and hands the reply to read, all bounded by ctx.
func exchange(ctx context.Context, addr string, cfg *tls.Config, req []byte, read func(*bufio.Reader) error) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if cfg != nil {
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return err
		}
		c = tc
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(req); err != nil {
		return ctxErr(ctx, err)
	}
	if err := read(bufio.NewReader(c)); err != nil {
		return ctxErr(ctx, err)
	}
	return nil
}

// Version asks the node at addr for its version and returns the "VERSION x" line.
func Version(ctx context.Context, addr string, cfg *tls.Config) (string, error) {
	line, err := RoundTrip(ctx, addr, cfg, []byte("version\r\n"))
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return "", fmt.Errorf("version: unexpected reply %q", line)
	}
	return line, nil
}

// Set stores value under key on the node at addr, with no flags and no expiry.
func Set(ctx context.Context, addr string, cfg *tls.Config, key string, value []byte) error {
	msg := make([]byte, 0, len(value)+len(key)+32)
	msg = fmt.Appendf(msg, "set %s 0 0 %d\r\n", key, len(value))
	msg = append(msg, value...)
	msg = append(msg, "\r\n"...)
	line, err := RoundTrip(ctx, addr, cfg, msg)
	if err != nil {
		return err
	}
	if line != "STORED" {
		return fmt.Errorf("set %s: memcached replied %q", key, line)
	}
	return nil
}

// ctxErr prefers the context's error when it caused err: the context ended, or the I/O deadline taken from
// it fired a moment before the context noticed.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}
