package clustermode

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// engine is one cluster-capable server binary.
type engine struct {
	name string
	bin  string
}

// engines lists the engines to run the real-process tests against: redis-server (the test is skipped without
// it) and valkey-server when installed.
func engines(t *testing.T) []engine {
	t.Helper()
	if testing.Short() {
		t.Skip("real-engine test skipped in -short mode")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	out := []engine{{name: "redis", bin: bin}}
	if bin, err := exec.LookPath("valkey-server"); err == nil {
		out = append(out, engine{name: "valkey", bin: bin})
	}
	return out
}

// forEngine runs f as a subtest per engine.
func forEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// Ports: client ports from 15000-15999, bus ports 10000 above (25000-25999): both below Linux's ephemeral range. Reserved ports are never handed out twice by
// this test binary; a port taken by another process between the check and the start is retried.
var (
	portMu   sync.Mutex
	portUsed = map[int]bool{}
)

func free(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func reservePort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 2000 {
		p := 15000 + rand.IntN(1000)
		if portUsed[p] || !free(p) || !free(p+10000) {
			continue
		}
		portUsed[p] = true
		return p
	}
	t.Fatal("no free port pair in 15000-15999")
	return 0
}

// server is one engine process started by a test.
type server struct {
	node resp.Node
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// stop kills the process and waits for it.
func (s *server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// startServers starts n cluster-mode engines with an empty data directory each; a password sets requirepass
// and masterauth. They are killed when the test ends.
func startServers(t *testing.T, e engine, n int, password string) []*server {
	t.Helper()
	out := make([]*server, 0, n)
	for range n {
		out = append(out, startServer(t, e, password))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range out {
		if err := waitReady(ctx, s); err != nil {
			t.Fatalf("%s on %s: %v\n%s", e.name, s.node.Addr, err, tail(s))
		}
	}
	return out
}

func startServer(t *testing.T, e engine, password string) *server {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := reservePort(t)
		dir := t.TempDir()
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--logfile", filepath.Join(dir, "server.log"),
			"--daemonize", "no",
			// Replicas sync at once instead of waiting for more replicas to share a transfer.
			"--repl-diskless-sync-delay", "0",
		}
		if password != "" {
			args = append(args, "--requirepass", password, "--masterauth", password)
		}
		cmd := exec.Command(e.bin, args...)
		cmd.SysProcAttr = procAttr()
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", e.bin, err)
		}
		s := &server{node: resp.Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Password: password}, port: port, dir: dir, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(s.done) }()
		// A port grabbed by someone else makes the engine exit at once.
		select {
		case <-s.done:
			if attempt < 5 {
				continue
			}
			t.Fatalf("%s on port %d exited at start:\n%s", e.name, port, tail(s))
		case <-time.After(50 * time.Millisecond):
		}
		t.Cleanup(func() {
			s.stop()
			if t.Failed() {
				t.Logf("%s %s log:\n%s", e.name, s.node.Addr, tail(s))
			}
		})
		return s
	}
}

func waitReady(ctx context.Context, s *server) error {
	c := dial(s.node)
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		}
		select {
		case <-s.done:
			return errors.New("exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(s *server) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// testCluster is a cluster formed by Create from servers started by the test.
type testCluster struct {
	servers []*server
	specs   []ShardSpec
	spare   []*server // started but not part of the cluster
}

func (c *testCluster) seed() resp.Node { return c.specs[0].Primary }

func (c *testCluster) addrs() []string {
	var out []string
	for _, s := range c.specs {
		out = append(out, s.Primary.Addr)
		for _, r := range s.Replicas {
			out = append(out, r.Addr)
		}
	}
	return out
}

func (c *testCluster) server(addr string) *server {
	for _, s := range c.servers {
		if s.node.Addr == addr {
			return s
		}
	}
	return nil
}

// newCluster starts shards*(1+replicas)+spare engines and forms shards shards with hashslot.Even.
func newCluster(t *testing.T, e engine, shards, replicas, spare int, password string) *testCluster {
	t.Helper()
	servers := startServers(t, e, shards*(1+replicas)+spare, password)
	c := &testCluster{servers: servers}
	slots := hashslot.Even(shards)
	next := 0
	for i := range shards {
		spec := ShardSpec{Primary: servers[next].node, Slots: slots[i]}
		next++
		for range replicas {
			spec.Replicas = append(spec.Replicas, servers[next].node)
			next++
		}
		c.specs = append(c.specs, spec)
	}
	c.spare = servers[next:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := Create(ctx, c.specs); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Logf("%s: formed %d shards x %d replicas in %v", e.name, shards, replicas, time.Since(start).Round(time.Millisecond))
	return c
}

func clusterClient(t *testing.T, addrs []string, password string) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: password, DisableIdentity: true})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// writeKeys sets prefix:0..n-1 to value-of-key with pipelines and returns the keys.
func writeKeys(ctx context.Context, t *testing.T, cc *redis.ClusterClient, prefix string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s:%d", prefix, i)
	}
	for lo := 0; lo < n; lo += 1000 {
		chunk := keys[lo:min(n, lo+1000)]
		if _, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.Set(ctx, k, valueOf(k), 0)
			}
			return nil
		}); err != nil {
			t.Fatalf("writing keys: %v", err)
		}
	}
	return keys
}

func valueOf(key string) string { return "v-" + key }

// checkKeys reads every key and reports the ones missing or not equal to valueOf.
func checkKeys(ctx context.Context, t *testing.T, cc *redis.ClusterClient, keys []string) {
	t.Helper()
	bad := 0
	for lo := 0; lo < len(keys); lo += 1000 {
		chunk := keys[lo:min(len(keys), lo+1000)]
		cmds, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range chunk {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("reading keys: %v", err)
		}
		for i, cmd := range cmds {
			got, err := cmd.(*redis.StringCmd).Result()
			if want := valueOf(chunk[i]); err != nil || got != want {
				if bad < 5 {
					t.Errorf("GET %s = %q, %v; want %q", chunk[i], got, err, want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d keys missing or wrong", bad, len(keys))
	}
}

// load writes new keys and reads back acknowledged ones from several goroutines until stopped, each about
// once a millisecond.
type load struct {
	cc     *redis.ClusterClient
	prefix string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	acked []string

	writes, reads, errs atomic.Int64
	errMu               sync.Mutex
	errSample           []string
}

func startLoad(t *testing.T, cc *redis.ClusterClient, prefix string, workers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cc: cc, prefix: prefix, cancel: cancel}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ctx.Err() == nil; i++ {
				k := fmt.Sprintf("%s:%d:%d", prefix, w, i)
				if err := cc.Set(ctx, k, valueOf(k), 0).Err(); err != nil {
					l.fail(ctx, "SET "+k, err)
					continue
				}
				l.writes.Add(1)
				l.mu.Lock()
				l.acked = append(l.acked, k)
				rk := l.acked[r.IntN(len(l.acked))]
				l.mu.Unlock()
				got, err := cc.Get(ctx, rk).Result()
				if err != nil {
					l.fail(ctx, "GET "+rk, err)
					continue
				}
				if got != valueOf(rk) {
					l.fail(ctx, "GET "+rk, fmt.Errorf("got %q", got))
					continue
				}
				l.reads.Add(1)
				// Steady rather than flat out: the engines need the CPU more than the load does.
				time.Sleep(time.Millisecond)
			}
		}()
	}
	t.Cleanup(l.stop)
	return l
}

func (l *load) fail(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return // stopping
	}
	l.errs.Add(1)
	l.errMu.Lock()
	if len(l.errSample) < 5 {
		l.errSample = append(l.errSample, what+": "+err.Error())
	}
	l.errMu.Unlock()
	time.Sleep(5 * time.Millisecond)
}

// stop ends the load; it may be called more than once.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

func (l *load) report(t *testing.T) {
	t.Helper()
	t.Logf("load: %d writes, %d reads, %d errors", l.writes.Load(), l.reads.Load(), l.errs.Load())
	if n := l.errs.Load(); n > 0 {
		t.Errorf("load saw %d errors, e.g. %v", n, l.errSample)
	}
}
