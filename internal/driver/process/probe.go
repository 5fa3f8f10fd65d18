package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ecache/ecache/internal/certs"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/memcache"
	"github.com/ecache/ecache/internal/resp"
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

// engineAddr is how the driver reaches the engine on port: TLS verified against the node's CA when files is set.
func engineAddr(port int, files *driver.TLSFiles, password string) (resp.Node, error) {
	n := resp.Node{Addr: addr(port), Password: password}
	if files != nil {
		cfg, err := certs.ClientConfig(files.CAFile, "127.0.0.1")
		if err != nil {
			return resp.Node{}, err
		}
		n.TLS = cfg
	}
	return n, nil
}

// probe checks that the engine on port answers within timeout: PING gets PONG (or NOAUTH when a password is
// set) on redis/valkey; "version" gets VERSION on memcached, whose text protocol is spoken only here.
func probe(ctx context.Context, e driver.Engine, port int, files *driver.TLSFiles, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := engineAddr(port, files, "")
	if err != nil {
		return err
	}
	if !e.RESP() {
		return probeMemcached(ctx, n)
	}
	err = resp.Ping(ctx, n, timeout)
	var refused resp.Error
	if err == nil || (errors.As(err, &refused) && refused.Code() == "NOAUTH") {
		return nil
	}
	return fmt.Errorf("PING: %w", err)
}

func probeMemcached(ctx context.Context, n resp.Node) error {
	_, err := memcache.Version(ctx, n.Addr, n.TLS)
	return err
}

// configSet applies directives to a running redis/valkey with CONFIG SET, authenticating with password
// first; a non-nil passwords then replaces the default user's passwords (ACL SETUSER).
func configSet(ctx context.Context, port int, files *driver.TLSFiles, password string, kv [][2]string, passwords []string) error {
	n, err := engineAddr(port, files, password)
	if err != nil {
		return err
	}
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, p := range kv {
		if _, err := c.Do(ctx, "CONFIG", "SET", p[0], p[1]); err != nil {
			return fmt.Errorf("CONFIG SET %s: %w", p[0], err)
		}
	}
	if passwords == nil {
		return nil
	}
	args := []string{"ACL", "SETUSER", "default", "on", "resetpass"}
	for _, pw := range passwords {
		args = append(args, ">"+pw)
	}
	if len(passwords) == 0 {
		args = append(args, "nopass")
	}
	if _, err := c.Do(ctx, args...); err != nil {
		return fmt.Errorf("ACL SETUSER default: %w", err)
	}
	// Replicas authenticate to their primary with the current token.
	user, auth := "", ""
	if len(passwords) > 0 {
		user, auth = "default", passwords[0]
	}
	if _, err := c.Do(ctx, "CONFIG", "SET", "masteruser", user, "masterauth", auth); err != nil {
		return fmt.Errorf("CONFIG SET masterauth: %w", err)
	}
	return nil
}
