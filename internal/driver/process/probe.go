package process

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/driver"
)

// PortFree reports whether port can be listened on at 127.0.0.1 right now.
func PortFree(port int) bool {
	if port < 1 || port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", addr(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// conn is a minimal line-oriented client for the engines' text protocols.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(ctx context.Context, port int, timeout time.Duration) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr(port))
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	return &conn{c: c, r: bufio.NewReader(c)}, nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// command sends a RESP command and returns its one-line reply (simple string or error).
func (c *conn) command(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return c.line()
}

// probe checks that the engine on port answers: PING gets +PONG (or -NOAUTH when a password is set)
// on redis/valkey, "version" gets VERSION on memcached.
func probe(ctx context.Context, e driver.Engine, port int, timeout time.Duration) error {
	c, err := dial(ctx, port, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if e.RESP() {
		reply, err := c.command("PING")
		if err != nil {
			return err
		}
		if strings.HasPrefix(reply, "+PONG") || strings.HasPrefix(reply, "-NOAUTH") {
			return nil
		}
		return fmt.Errorf("PING: %q", reply)
	}
	if _, err := c.c.Write([]byte("version\r\n")); err != nil {
		return err
	}
	reply, err := c.line()
	if err != nil {
		return err
	}
	if strings.HasPrefix(reply, "VERSION ") {
		return nil
	}
	return fmt.Errorf("version: %q", reply)
}

// configSet applies directives to a running redis/valkey with CONFIG SET, authenticating with password first.
func configSet(ctx context.Context, port int, password string, kv [][2]string) error {
	c, err := dial(ctx, port, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if password != "" {
		reply, err := c.command("AUTH", password)
		if err != nil {
			return err
		}
		if reply != "+OK" {
			return errors.New("AUTH: " + reply)
		}
	}
	for _, p := range kv {
		reply, err := c.command("CONFIG", "SET", p[0], p[1])
		if err != nil {
			return err
		}
		if reply != "+OK" {
			return fmt.Errorf("CONFIG SET %s: %s", p[0], reply)
		}
	}
	return nil
}
