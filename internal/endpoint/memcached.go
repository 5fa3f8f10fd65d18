package endpoint

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/memcache"
)

// ClusterKey is the key under which ElastiCache stores the Auto Discovery
// payload on every Memcached node, for clients older than the `config`
// command (engines before 1.4.14).
const ClusterKey = "AmazonElastiCache:cluster"

// maxCommandLine is the longest text-protocol line the configuration endpoint
// inspects. A longer line cannot be one of its own commands, so the
// connection is piped to a node.
const maxCommandLine = 2048

// binaryMagic is the first byte of every memcached binary-protocol request.
const binaryMagic = 0x80

// versionQueryTimeout bounds asking a node for its version.
const versionQueryTimeout = 2 * time.Second

// ClusterNode is one node of a Memcached cluster as listed by Auto Discovery.
type ClusterNode struct {
	Host string // node endpoint hostname; always listed
	IP   string // private IP; "" when unknown (listed as an empty field)
	Port int
}

// dialAddr is the address used to reach the node: the IP when known,
// otherwise the hostname.
func (n ClusterNode) dialAddr() string {
	h := n.IP
	if h == "" {
		h = n.Host
	}
	return net.JoinHostPort(h, strconv.Itoa(n.Port))
}

// sortNodes returns a copy of nodes in ElastiCache's listing order:
// alphabetical by hostname (then port and IP so the order is total).
func sortNodes(nodes []ClusterNode) []ClusterNode {
	s := slices.Clone(nodes)
	slices.SortFunc(s, func(a, b ClusterNode) int {
		return cmp.Or(strings.Compare(a.Host, b.Host), cmp.Compare(a.Port, b.Port), strings.Compare(a.IP, b.IP))
	})
	return s
}

// ConfigPayload renders the Auto Discovery payload exactly as ElastiCache
// does: the version line ending in LF, then the nodes sorted by hostname as
// space-separated host|ip|port entries ending in LF. An unknown IP leaves an
// empty field between the two pipes (host||port).
//
// The payload is the data block of both the `config get cluster` reply and
// the AmazonElastiCache:cluster item; its length is the <bytes> field of
// either header. For AWS's example (version 12, two nodes) it is 136 bytes.
func ConfigPayload(version int, nodes []ClusterNode) []byte {
	var b bytes.Buffer
	b.WriteString(strconv.Itoa(version))
	b.WriteByte('\n')
	for i, n := range sortNodes(nodes) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n.Host)
		b.WriteByte('|')
		b.WriteString(n.IP)
		b.WriteByte('|')
		b.WriteString(strconv.Itoa(n.Port))
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// configReply is the full ASCII reply to `config get cluster`:
// "CONFIG cluster 0 <bytes>\r\n<payload>\r\nEND\r\n".
func configReply(payload []byte) []byte {
	return dataReply("CONFIG cluster", payload)
}

// valueReply is the full ASCII reply to `get AmazonElastiCache:cluster`:
// "VALUE AmazonElastiCache:cluster 0 <bytes>\r\n<payload>\r\nEND\r\n".
func valueReply(payload []byte) []byte {
	return dataReply("VALUE "+ClusterKey, payload)
}

func dataReply(head string, payload []byte) []byte {
	b := make([]byte, 0, len(head)+len(payload)+32)
	b = append(b, head...)
	b = append(b, " 0 "...)
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, "\r\n"...)
	b = append(b, payload...)
	b = append(b, "\r\nEND\r\n"...)
	return b
}

// MemcachedConfigEndpoint is the configuration endpoint of a Memcached
// cluster. Stock memcached does not implement ElastiCache's `config get
// cluster`, so ecache answers it here. Per connection it reads text-protocol
// lines and answers:
//
//	config get cluster            CONFIG cluster 0 <bytes>\r\n<payload>\r\nEND\r\n
//	get AmazonElastiCache:cluster VALUE AmazonElastiCache:cluster 0 <bytes>\r\n<payload>\r\nEND\r\n
//	version                       VERSION <engine version>\r\n
//	quit                          (closes the connection)
//
// The first other command turns the connection into a transparent L4 pipe
// to one of the nodes (round-robin, failing over to the next node if one
// refuses), replaying the bytes not yet answered, so that a client using the
// configuration endpoint as a plain node still works, as with ElastiCache
// whose configuration endpoint resolves to one of the nodes. A connection
// whose first byte is the binary-protocol magic 0x80, or that sends a line
// longer than 2048 bytes, is piped at once.
type MemcachedConfigEndpoint struct {
	ln     *net.TCPListener
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	links  *linkSet

	mu            sync.Mutex
	nodes         []ClusterNode // sorted
	version       int
	payload       []byte
	engineVersion string
	next          uint64
	opts          MemcachedConfigOptions
}

// ListenMemcachedConfig starts a configuration endpoint on addr
// ("127.0.0.1:0" picks a free port). Until SetNodes is called it reports
// version 0 and no nodes. A nil logger discards log output.
func ListenMemcachedConfig(addr string, logger *slog.Logger) (*MemcachedConfigEndpoint, error) {
	return ListenMemcachedConfigWith(addr, MemcachedConfigOptions{}, logger)
}

// MemcachedConfigOptions configure a configuration endpoint of a cluster with in-transit encryption.
type MemcachedConfigOptions struct {
	// ClientTLS, when set, makes the endpoint accept only TLS connections.
	ClientTLS *tls.Config
	// NodeTLS, when set, is used to reach the nodes (which then serve TLS only).
	NodeTLS *tls.Config
}

// ListenMemcachedConfigWith is ListenMemcachedConfig with options.
func ListenMemcachedConfigWith(addr string, opts MemcachedConfigOptions, logger *slog.Logger) (*MemcachedConfigEndpoint, error) {
	ln, err := listenTCP(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &MemcachedConfigEndpoint{
		ln:      ln,
		logger:  orDiscard(logger).With("endpoint", ln.Addr().String(), "kind", "memcached-config"),
		ctx:     ctx,
		cancel:  cancel,
		links:   newLinkSet(),
		payload: ConfigPayload(0, nil),
		opts:    opts,
	}
	e.wg.Add(1)
	go acceptLoop(ctx, ln, &e.wg, e.logger, e.handle)
	return e, nil
}

// Addr is the address the endpoint listens on.
func (e *MemcachedConfigEndpoint) Addr() *net.TCPAddr { return e.ln.Addr().(*net.TCPAddr) }

// SetNodes sets the cluster's node list. When the list differs from the
// current one (a node added, removed or replaced; order does not matter) the
// configuration version goes up by one, as ElastiCache increments it each
// time a node is added or removed; the first non-empty list of a new cluster
// therefore gets version 1.
func (e *MemcachedConfigEndpoint) SetNodes(nodes []ClusterNode) {
	sorted := sortNodes(nodes)
	e.mu.Lock()
	if slices.Equal(sorted, e.nodes) {
		e.mu.Unlock()
		return
	}
	e.nodes = sorted
	e.version++
	e.payload = ConfigPayload(e.version, sorted)
	v := e.version
	e.mu.Unlock()
	e.logger.Info("cluster configuration changed", "version", v, "nodes", len(sorted))
}

// Nodes returns the current node list in listing order.
func (e *MemcachedConfigEndpoint) Nodes() []ClusterNode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.nodes)
}

// Version is the current configuration version (0 before the first SetNodes).
func (e *MemcachedConfigEndpoint) Version() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.version
}

// Payload is the current Auto Discovery payload, ready for SeedMemcachedNode.
func (e *MemcachedConfigEndpoint) Payload() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.payload)
}

// SetEngineVersion sets what the endpoint answers to `version` (for example
// "1.6.18", the version of the memcached binary running the nodes). When it
// is not set, the endpoint asks one of the nodes each time.
func (e *MemcachedConfigEndpoint) SetEngineVersion(v string) {
	e.mu.Lock()
	e.engineVersion = v
	e.mu.Unlock()
}

// Close stops listening, closes every connection (including piped ones) and
// waits until all goroutines of the endpoint have returned.
func (e *MemcachedConfigEndpoint) Close() error {
	e.cancel()
	if !e.links.shut() {
		return nil
	}
	err := e.ln.Close()
	e.wg.Wait()
	return err
}

func (e *MemcachedConfigEndpoint) snapshot() (payload []byte, nodes []ClusterNode, engineVersion string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.payload, e.nodes, e.engineVersion
}

// errLineTooLong reports a text-protocol line longer than maxCommandLine.
var errLineTooLong = errors.New("command line too long")

// peekLine returns the next complete line (with its terminator) without
// consuming it. It returns errLineTooLong when maxCommandLine bytes have
// arrived without a newline or when the line is longer than that.
func peekLine(r *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := r.Peek(r.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			if i >= maxCommandLine {
				return nil, errLineTooLong
			}
			return buf[:i+1], nil
		}
		if len(buf) >= maxCommandLine {
			return nil, errLineTooLong
		}
		// Block until at least one more byte arrives.
		if _, err := r.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

func (e *MemcachedConfigEndpoint) handle(tc *net.TCPConn) {
	var c net.Conn = tc
	if e.opts.ClientTLS != nil {
		c = tls.Server(tc, e.opts.ClientTLS)
	}
	l := &link{client: c}
	if !e.links.add(l) {
		c.Close()
		return
	}
	defer e.links.remove(l)
	defer c.Close()

	// The buffer is larger than maxCommandLine so that peekLine never fills it.
	r := bufio.NewReaderSize(c, 2*maxCommandLine)
	for {
		first, err := r.Peek(1)
		if err != nil {
			return
		}
		if first[0] == binaryMagic {
			e.pipe(l, r, false)
			return
		}
		line, err := peekLine(r)
		if errors.Is(err, errLineTooLong) {
			e.pipe(l, r, true)
			return
		}
		if err != nil {
			return
		}
		var reply []byte
		switch cmd := strings.Fields(string(line)); {
		case len(cmd) == 3 && cmd[0] == "config" && cmd[1] == "get" && cmd[2] == "cluster":
			payload, _, _ := e.snapshot()
			reply = configReply(payload)
		case len(cmd) == 2 && cmd[0] == "get" && cmd[1] == ClusterKey:
			payload, _, _ := e.snapshot()
			reply = valueReply(payload)
		case len(cmd) == 1 && cmd[0] == "version":
			reply = e.versionReply()
		case len(cmd) == 1 && cmd[0] == "quit":
			return
		default:
			e.pipe(l, r, true)
			return
		}
		if _, err := r.Discard(len(line)); err != nil {
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// versionReply answers `version` with the configured engine version or,
// failing that, with the version line of one of the nodes.
func (e *MemcachedConfigEndpoint) versionReply() []byte {
	_, nodes, v := e.snapshot()
	if v != "" {
		return []byte("VERSION " + v + "\r\n")
	}
	ctx, cancel := context.WithTimeout(e.ctx, versionQueryTimeout)
	defer cancel()
	for _, n := range nodes {
		line, err := memcache.Version(ctx, n.dialAddr(), e.opts.NodeTLS)
		if err == nil {
			return []byte(line + "\r\n")
		}
		e.logger.Warn("version query failed", "node", n.dialAddr(), "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return []byte("SERVER_ERROR no cache node reachable\r\n")
}

// pipe relays the connection to a node, first replaying the bytes already
// read from the client that have not been answered.
func (e *MemcachedConfigEndpoint) pipe(l *link, r *bufio.Reader, text bool) {
	buffered, _ := r.Peek(r.Buffered())
	prefix := slices.Clone(buffered)
	backend, addr, err := e.connect(l)
	if err != nil {
		if e.ctx.Err() == nil {
			e.logger.Warn("no cache node reachable; closing client", "client", l.client.RemoteAddr().String(), "err", err)
			if text {
				_, _ = l.client.Write([]byte("SERVER_ERROR no cache node reachable\r\n"))
			}
		}
		return
	}
	e.logger.Debug("piping to node", "client", l.client.RemoteAddr().String(), "node", addr)
	relay(l.client, backend, prefix)
}

// connect dials the next node round-robin, failing over to the others.
func (e *MemcachedConfigEndpoint) connect(l *link) (net.Conn, string, error) {
	e.mu.Lock()
	nodes := e.nodes
	start := 0
	if len(nodes) > 0 {
		start = int(e.next % uint64(len(nodes)))
		e.next++
	}
	e.mu.Unlock()
	if len(nodes) == 0 {
		return nil, "", errors.New("cluster has no nodes")
	}
	var lastErr error
	for i := range nodes {
		addr := nodes[(start+i)%len(nodes)].dialAddr()
		b, err := e.dialNode(addr)
		if err != nil {
			if e.ctx.Err() != nil {
				return nil, "", err
			}
			e.logger.Warn("node dial failed; trying next", "node", addr, "err", err)
			lastErr = err
			continue
		}
		if !e.links.attach(l, b, addr, nil) {
			b.Close()
			return nil, "", net.ErrClosed
		}
		return b, addr, nil
	}
	return nil, "", lastErr
}

// dialNode connects to a node, over TLS when the nodes serve it.
func (e *MemcachedConfigEndpoint) dialNode(addr string) (net.Conn, error) {
	b, err := dialBackend(e.ctx, addr)
	if err != nil || e.opts.NodeTLS == nil {
		return b, err
	}
	ctx, cancel := context.WithTimeout(e.ctx, dialTimeout)
	defer cancel()
	tc := tls.Client(b, e.opts.NodeTLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return tc, nil
}

// SeedMemcachedNode stores payload (see ConfigPayload) on the memcached node
// at addr under the key AmazonElastiCache:cluster with
// `set AmazonElastiCache:cluster 0 0 <n>`, so that clients doing
// `get AmazonElastiCache:cluster` against any node also discover the cluster,
// as ElastiCache keeps the key on every node. ctx bounds the whole exchange.
func SeedMemcachedNode(ctx context.Context, addr string, payload []byte) error {
	return SeedMemcachedNodeTLS(ctx, addr, nil, payload)
}

// SeedMemcachedNodeTLS is SeedMemcachedNode for a node that serves TLS (cfg nil: plain TCP).
func SeedMemcachedNodeTLS(ctx context.Context, addr string, cfg *tls.Config, payload []byte) error {
	if err := memcache.Set(ctx, addr, cfg, ClusterKey, payload); err != nil {
		return fmt.Errorf("endpoint: seed %s: %w", addr, err)
	}
	return nil
}
