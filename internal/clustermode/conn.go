package clustermode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// Connection limits. Every command also ends when the caller's context does.
const (
	dialTimeout  = 2 * time.Second
	readTimeout  = 5 * time.Second
	writeTimeout = 5 * time.Second
	pollInterval = 50 * time.Millisecond
	// slowReadTimeout bounds one MIGRATE of a batch of keys, or a few CLUSTER SETSLOT that wait for replicas.
	slowReadTimeout = 30 * time.Second
	// fanout is how many connections per node carry per-slot commands side by side.
	fanout = 64
)

// dial opens a single-connection client for n. It connects lazily; close it when done.
func dial(n resp.Node) *redis.Client { return redis.NewClient(options(n)) }

// options are the client options for n: RESP2, no retries, short timeouts, ctx deadlines honoured.
func options(n resp.Node) *redis.Options {
	var tlsConf *tls.Config
	if n.TLS != nil {
		tlsConf = n.TLS.Clone()
	}
	return &redis.Options{
		Addr:                  n.Addr,
		Username:              n.User,
		Password:              n.Password,
		TLSConfig:             tlsConf,
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           dialTimeout,
		DialerRetries:         2,
		DialerRetryTimeout:    100 * time.Millisecond,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              1,
		MaxIdleConns:          1,
	}
}

// peer is a node met through another node's view: same credentials as the node that reported it.
func peer(like resp.Node, addr string) resp.Node {
	return resp.Node{Addr: addr, User: like.User, Password: like.Password, TLS: like.TLS}
}

// pool keeps clients per address for the length of one operation.
type pool struct {
	clients map[string]*redis.Client
}

func newPool() *pool { return &pool{clients: map[string]*redis.Client{}} }

func (p *pool) get(n resp.Node) *redis.Client {
	if c, ok := p.clients[n.Addr]; ok {
		return c
	}
	c := dial(n)
	p.clients[n.Addr] = c
	return c
}

// slow is a client for n for commands that may legitimately take long (MIGRATE, SETSLOT waiting for replica
// acknowledgements), with up to fanout connections for commands sent side by side.
func (p *pool) slow(n resp.Node) *redis.Client {
	key := "slow " + n.Addr
	if c, ok := p.clients[key]; ok {
		return c
	}
	o := options(n)
	o.ReadTimeout = slowReadTimeout
	o.PoolSize, o.MaxIdleConns = fanout, fanout
	c := redis.NewClient(o)
	p.clients[key] = c
	return c
}

func (p *pool) close() {
	for _, c := range p.clients {
		_ = c.Close()
	}
	clear(p.clients)
}

// do runs one command and wraps its error with the node address and command name.
func do(ctx context.Context, c *redis.Client, args ...any) (any, error) {
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.Options().Addr, cmdName(args), err)
	}
	return v, nil
}

func doString(ctx context.Context, c *redis.Client, args ...any) (string, error) {
	v, err := c.Do(ctx, args...).Text()
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", c.Options().Addr, cmdName(args), err)
	}
	return v, nil
}

func cmdName(args []any) string {
	var parts []string
	for i, a := range args {
		if i == 2 {
			break
		}
		parts = append(parts, strings.ToLower(fmt.Sprint(a)))
	}
	return strings.Join(parts, " ")
}

// errorHas reports whether err is a server error reply containing substr.
func errorHas(err error, substr string) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(rerr.Error(), substr)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitFor polls check until it reports done, an error that is not worth retrying, or ctx ends; on ctx end the
// error names what was awaited and the last reason it was not yet true.
func waitFor(ctx context.Context, what string, check func(ctx context.Context) (done bool, reason string, err error)) error {
	reason := "not checked yet"
	for {
		done, why, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if why != "" {
			reason = why
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("waiting for %s: %w (last: %s)", what, err, reason)
		}
	}
}

// resolveAddr turns host:port into the IP and port that CLUSTER MEET and MIGRATE take.
func resolveAddr(ctx context.Context, addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: bad port", addr)
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), port, nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	if len(ips) == 0 {
		return "", 0, fmt.Errorf("address %q: no IP address", addr)
	}
	return ips[0].IP.String(), port, nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	ID       string
	Addr     string // ip:port, "" when the node has no address yet
	BusPort  int
	Flags    map[string]bool
	MasterID string // "" for masters
	Epoch    int64
	Slots    []hashslot.Range
	// Only on the myself line: slots this node is migrating to / importing from another node id.
	Migrating map[int]string
	Importing map[int]string
}

func (n clusterNode) myself() bool  { return n.Flags["myself"] }
func (n clusterNode) master() bool  { return n.Flags["master"] }
func (n clusterNode) replica() bool { return n.Flags["slave"] }

// failed: marked failed (or suspected), still handshaking or without an address.
func (n clusterNode) failed() bool {
	return n.Flags["fail"] || n.Flags["fail?"] || n.Flags["handshake"] || n.Flags["noaddr"] || n.Addr == ""
}

func (n clusterNode) owns(slot int) bool {
	for _, r := range n.Slots {
		if slot >= r.Start && slot <= r.End {
			return true
		}
	}
	return false
}

type clusterView []clusterNode

func (v clusterView) self() (clusterNode, bool) {
	for _, n := range v {
		if n.myself() {
			return n, true
		}
	}
	return clusterNode{}, false
}

func (v clusterView) byID(id string) (clusterNode, bool) {
	for _, n := range v {
		if n.ID == id {
			return n, true
		}
	}
	return clusterNode{}, false
}

// owner is the id of the node that holds slot in this view, "" if none.
func (v clusterView) owner(slot int) string {
	for _, n := range v {
		if n.master() && n.owns(slot) {
			return n.ID
		}
	}
	return ""
}

// parseNodes parses the CLUSTER NODES reply:
// <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
func parseNodes(text string) (clusterView, error) {
	var out clusterView
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 {
			return nil, fmt.Errorf("cluster nodes: short line %q", line)
		}
		n := clusterNode{ID: f[0], Flags: map[string]bool{}}
		addr, _, _ := strings.Cut(f[1], ",")
		hostPort, bus, _ := strings.Cut(addr, "@")
		// The engines write an IPv6 address without brackets (::1:6379): the port follows the last colon.
		if i := strings.LastIndexByte(hostPort, ':'); i > 0 && i < len(hostPort)-1 && hostPort[i+1:] != "0" {
			n.Addr = net.JoinHostPort(strings.Trim(hostPort[:i], "[]"), hostPort[i+1:])
		}
		n.BusPort, _ = strconv.Atoi(bus)
		for _, fl := range strings.Split(f[2], ",") {
			n.Flags[fl] = true
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		n.Epoch, _ = strconv.ParseInt(f[6], 10, 64)
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				// [slot->-id] migrating, [slot-<-id] importing.
				body := strings.Trim(s, "[]")
				if slot, id, ok := strings.Cut(body, "->-"); ok {
					if k, err := strconv.Atoi(slot); err == nil {
						if n.Migrating == nil {
							n.Migrating = map[int]string{}
						}
						n.Migrating[k] = id
					}
				} else if slot, id, ok := strings.Cut(body, "-<-"); ok {
					if k, err := strconv.Atoi(slot); err == nil {
						if n.Importing == nil {
							n.Importing = map[int]string{}
						}
						n.Importing[k] = id
					}
				}
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("cluster nodes: bad slot %q", s)
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil {
					return nil, fmt.Errorf("cluster nodes: bad slot %q", s)
				}
			}
			n.Slots = append(n.Slots, hashslot.Range{Start: a, End: b})
		}
		n.Slots = hashslot.Normalize(n.Slots)
		out = append(out, n)
	}
	return out, nil
}

func nodesOf(ctx context.Context, c *redis.Client) (clusterView, error) {
	text, err := doString(ctx, c, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	v, err := parseNodes(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Options().Addr, err)
	}
	if _, ok := v.self(); !ok {
		return nil, fmt.Errorf("%s: cluster nodes: no myself line", c.Options().Addr)
	}
	return v, nil
}

// infoFields parses an INFO-style "key:value" reply.
func infoFields(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

func clusterInfo(ctx context.Context, c *redis.Client) (map[string]string, error) {
	text, err := doString(ctx, c, "CLUSTER", "INFO")
	if err != nil {
		return nil, err
	}
	return infoFields(text), nil
}

// selfOf returns the node's own line of CLUSTER NODES; it fails when cluster mode is off.
func selfOf(ctx context.Context, c *redis.Client) (clusterNode, clusterView, error) {
	v, err := nodesOf(ctx, c)
	if err != nil {
		return clusterNode{}, nil, err
	}
	me, _ := v.self()
	return me, v, nil
}
