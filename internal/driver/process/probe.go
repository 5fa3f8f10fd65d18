package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/certs"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/memcache"
	"github.com/ecache/ecache/internal/resp"
)

// PortFree reports whether port can be listened on right now at 127.0.0.1, and at ::1 too where this host
// has IPv6 loopback: a port given to a node must serve any network type.
func PortFree(port int) bool {
	if port < 1 || port > 65535 {
		return false
	}
	for _, host := range loopbacks() {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// AddressFree reports whether port (0: any) can be listened on right now at addr.
func AddressFree(addr string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// bindFree reports whether port can be listened on at every address spec binds: at a node's own address
// there alone, and at the shared loopback addresses wherever PortFree looks.
func bindFree(spec driver.NodeSpec, port int) bool {
	for _, a := range bindAddrs(spec) {
		if a == "127.0.0.1" || a == "::1" {
			if !PortFree(port) {
				return false
			}
		} else if !AddressFree(a, port) {
			return false
		}
	}
	return true
}

// loopbacks are the loopback addresses of this host: 127.0.0.1, and ::1 when IPv6 is on.
var loopbacks = sync.OnceValue(func() []string {
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		return []string{"127.0.0.1", "::1"}
	}
	return []string{"127.0.0.1"}
})

// engineAddr is how the driver reaches the engine of spec (with password): TLS verified against the node's
// CA when it has TLS files.
func engineAddr(spec driver.NodeSpec, password string) (resp.Node, error) {
	n := resp.Node{Addr: net.JoinHostPort(spec.Host(), strconv.Itoa(spec.Port)), Password: password}
	if files := spec.TLS; files != nil {
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
func probe(ctx context.Context, spec driver.NodeSpec, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := engineAddr(spec, "")
	if err != nil {
		return err
	}
	switch spec.Engine {
	case driver.EngineMemcached:
		return probeMemcached(ctx, n)
	case driver.EngineTxlog:
		return probeHTTP(ctx, n.Addr)
	}
	err = resp.Ping(ctx, n, timeout)
	var refused resp.Error
	if err == nil || (errors.As(err, &refused) && (refused.Code() == "NOAUTH" || refused.Code() == "NOPERM")) {
		return nil
	}
	if refused.Code() == "LOADING" {
		return fmt.Errorf("PING: %w: %w", errLoading, err)
	}
	return fmt.Errorf("PING: %w", err)
}

// errLoading is what probe reports while the engine loads its dataset (it answers LOADING).
var errLoading = errors.New("loading the dataset")

// probeHTTP asks a log replica for its status.
func probeHTTP(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status: %s", resp.Status)
	}
	return nil
}

func probeMemcached(ctx context.Context, n resp.Node) error {
	_, err := memcache.Version(ctx, n.Addr, n.TLS)
	return err
}

// configSet changes a running redis/valkey (as running started it) on one connection, as ecache's own
// user or with the default user's password: directives with CONFIG SET, then want's users when they differ
// from running's (applyACL), or else a non-nil passwords as the default user's.
func configSet(ctx context.Context, running, want driver.NodeSpec, kv [][2]string, passwords []string) error {
	n, err := controlNode(running)
	if err != nil {
		return err
	}
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	for _, p := range kv {
		if _, err := c.Do(ctx, "CONFIG", "SET", p[0], directiveValue(p[1])); err != nil {
			return fmt.Errorf("CONFIG SET %s: %w", p[0], err)
		}
	}
	switch {
	case !running.ACL.Equal(want.ACL):
		return applyACL(ctx, c, n.User, want)
	case passwords != nil:
		return setDefaultUser(ctx, c, passwords, false)
	}
	return nil
}

// setDefaultUser gives the default user passwords (none: no password needed), with every permission
// again when reset, and has replicas authenticate to their primary with the first password.
func setDefaultUser(ctx context.Context, c *resp.Conn, passwords []string, reset bool) error {
	args := []string{"ACL", "SETUSER", "default", "on", "resetpass"}
	if reset {
		args = []string{"ACL", "SETUSER", "default", "reset", "on", "~*", "&*", "+@all"}
	}
	for _, pw := range passwords {
		args = append(args, ">"+pw)
	}
	if len(passwords) == 0 {
		args = append(args, "nopass")
	}
	if _, err := c.Do(ctx, args...); err != nil {
		return fmt.Errorf("ACL SETUSER default: %w", err)
	}
	user, auth := "", ""
	if len(passwords) > 0 {
		user, auth = "default", passwords[0]
	}
	return setMasterAuth(ctx, c, user, auth)
}

// setMasterAuth is what a replica authenticates to its primary with.
func setMasterAuth(ctx context.Context, c *resp.Conn, user, password string) error {
	if _, err := c.Do(ctx, "CONFIG", "SET", "masteruser", user, "masterauth", password); err != nil {
		return fmt.Errorf("CONFIG SET masterauth: %w", err)
	}
	return nil
}
