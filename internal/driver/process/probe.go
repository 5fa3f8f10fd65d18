package process

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
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

func dial(ctx context.Context, port int, files *driver.TLSFiles, timeout time.Duration) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr(port))
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if files != nil {
		cfg, err := clientTLS(files)
		if err != nil {
			c.Close()
			return nil, err
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		c = tc
	}
	return &conn{c: c, r: bufio.NewReader(c)}, nil
}

// clientTLS trusts the node's CA.
func clientTLS(files *driver.TLSFiles) (*tls.Config, error) {
	pem, err := os.ReadFile(files.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", files.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, nil
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
func probe(ctx context.Context, e driver.Engine, port int, files *driver.TLSFiles, timeout time.Duration) error {
	c, err := dial(ctx, port, files, timeout)
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

// configSet applies directives to a running redis/valkey with CONFIG SET, authenticating with password
// first; a non-nil passwords then replaces the default user's passwords (ACL SETUSER).
func configSet(ctx context.Context, port int, files *driver.TLSFiles, password string, kv [][2]string, passwords []string) error {
	c, err := dial(ctx, port, files, 2*time.Second)
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
	if passwords != nil {
		args := []string{"ACL", "SETUSER", "default", "on", "resetpass"}
		for _, pw := range passwords {
			args = append(args, ">"+pw)
		}
		if len(passwords) == 0 {
			args = append(args, "nopass")
		}
		reply, err := c.command(args...)
		if err != nil {
			return err
		}
		if reply != "+OK" {
			return fmt.Errorf("ACL SETUSER default: %s", reply)
		}
		// Replicas authenticate to their primary with the current token.
		user, auth := "", ""
		if len(passwords) > 0 {
			user, auth = "default", passwords[0]
		}
		if reply, err = c.command("CONFIG", "SET", "masteruser", user, "masterauth", auth); err != nil {
			return err
		}
		if reply != "+OK" {
			return fmt.Errorf("CONFIG SET masterauth: %s", reply)
		}
	}
	return nil
}
