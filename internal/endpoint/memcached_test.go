package endpoint

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/memcache"
)

// AWS's worked example from "Adding Auto Discovery to your client library".
const (
	awsHost1 = "myCluster.pc4ldq.0001.use1.cache.amazonaws.com"
	awsHost2 = "myCluster.pc4ldq.0002.use1.cache.amazonaws.com"
	awsWire  = "CONFIG cluster 0 136\r\n" +
		"12\n" +
		awsHost1 + "|10.82.235.120|11211 " + awsHost2 + "|10.80.249.27|11211\n" +
		"\r\n" +
		"END\r\n"
)

func TestConfigPayload(t *testing.T) {
	tests := []struct {
		name    string
		version int
		nodes   []ClusterNode
		want    string
	}{
		{
			name:    "AWS example, listed in hostname order",
			version: 12,
			nodes: []ClusterNode{
				{Host: awsHost2, IP: "10.80.249.27", Port: 11211},
				{Host: awsHost1, IP: "10.82.235.120", Port: 11211},
			},
			want: "12\n" + awsHost1 + "|10.82.235.120|11211 " + awsHost2 + "|10.80.249.27|11211\n",
		},
		{
			name:    "empty IP keeps both pipes",
			version: 1,
			nodes:   []ClusterNode{{Host: "c.0001.cache.local", Port: 11211}},
			want:    "1\nc.0001.cache.local||11211\n",
		},
		{
			name:    "same host sorted by port",
			version: 3,
			nodes: []ClusterNode{
				{Host: "localhost", IP: "127.0.0.1", Port: 30002},
				{Host: "localhost", IP: "127.0.0.1", Port: 30001},
			},
			want: "3\nlocalhost|127.0.0.1|30001 localhost|127.0.0.1|30002\n",
		},
		{
			name:    "no nodes",
			version: 0,
			want:    "0\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(ConfigPayload(tt.version, tt.nodes)); got != tt.want {
				t.Errorf("ConfigPayload = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("AWS example wire bytes", func(t *testing.T) {
		payload := ConfigPayload(12, []ClusterNode{
			{Host: awsHost1, IP: "10.82.235.120", Port: 11211},
			{Host: awsHost2, IP: "10.80.249.27", Port: 11211},
		})
		if got, want := len(payload), 136; got != want {
			t.Errorf("len(payload) = %d, want %d", got, want)
		}
		if got := string(configReply(payload)); got != awsWire {
			t.Errorf("config reply =\n%q\nwant\n%q", got, awsWire)
		}
		wantValue := "VALUE AmazonElastiCache:cluster 0 136\r\n" + string(payload) + "\r\nEND\r\n"
		if got := string(valueReply(payload)); got != wantValue {
			t.Errorf("value reply =\n%q\nwant\n%q", got, wantValue)
		}
	})
}

func newConfigEndpoint(t testing.TB) *MemcachedConfigEndpoint {
	t.Helper()
	e, err := ListenMemcachedConfig("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("ListenMemcachedConfig: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// exchange writes each chunk of send (pausing between chunks so that they
// arrive separately) and reads exactly len(want) bytes back.
func exchange(t testing.TB, c net.Conn, send []string, want string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	for i, chunk := range send {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := io.WriteString(c, chunk); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after %q: %v (got %q)", got[:n], err, got[:n])
	}
	return string(got)
}

func TestMemcachedConfigEndpointCommands(t *testing.T) {
	e := newConfigEndpoint(t)
	nodes := []ClusterNode{
		{Host: "c1.0002.cache.local", IP: "127.0.0.1", Port: 30002},
		{Host: "c1.0001.cache.local", IP: "127.0.0.1", Port: 30001},
	}
	e.SetNodes(nodes)
	e.SetEngineVersion("1.6.18")
	payload := ConfigPayload(1, nodes)
	cfg, val := string(configReply(payload)), string(valueReply(payload))
	if got, want := cfg, "CONFIG cluster 0 74\r\n1\nc1.0001.cache.local|127.0.0.1|30001 c1.0002.cache.local|127.0.0.1|30002\n\r\nEND\r\n"; got != want {
		t.Fatalf("config reply = %q, want %q", got, want)
	}

	c := dial(t, e.Addr().String())
	steps := []struct {
		name string
		send []string
		want string
	}{
		{"config get cluster", []string{"config get cluster\r\n"}, cfg},
		{"get AmazonElastiCache:cluster", []string{"get AmazonElastiCache:cluster\r\n"}, val},
		{"version", []string{"version\r\n"}, "VERSION 1.6.18\r\n"},
		{"LF-only terminator", []string{"config get cluster\n"}, cfg},
		{"split across packets", []string{"config get ", "cluster\r\n"}, cfg},
		{"pipelined", []string{"version\r\nconfig get cluster\r\nget AmazonElastiCache:cluster\r\n"}, "VERSION 1.6.18\r\n" + cfg + val},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := exchange(t, c, st.send, st.want); got != st.want {
				t.Errorf("reply = %q, want %q", got, st.want)
			}
		})
	}
	t.Run("quit", func(t *testing.T) {
		if _, err := io.WriteString(c, "quit\r\n"); err != nil {
			t.Fatalf("write: %v", err)
		}
		expectClosed(t, c)
	})
}

func TestMemcachedConfigEndpointVersion(t *testing.T) {
	a := ClusterNode{Host: "c.0001.cache.local", IP: "127.0.0.1", Port: 30001}
	b := ClusterNode{Host: "c.0002.cache.local", IP: "127.0.0.1", Port: 30002}
	c := ClusterNode{Host: "c.0003.cache.local", IP: "127.0.0.1", Port: 30003}
	cMoved := ClusterNode{Host: "c.0003.cache.local", IP: "127.0.0.1", Port: 30013}

	e := newConfigEndpoint(t)
	if got := e.Version(); got != 0 {
		t.Fatalf("initial Version() = %d, want 0", got)
	}
	conn := dial(t, e.Addr().String())
	steps := []struct {
		name  string
		nodes []ClusterNode
		want  int
	}{
		{"new cluster starts at 1", []ClusterNode{a, b}, 1},
		{"same set again", []ClusterNode{a, b}, 1},
		{"same set in another order", []ClusterNode{b, a}, 1},
		{"node added", []ClusterNode{a, b, c}, 2},
		{"node removed", []ClusterNode{a, c}, 3},
		{"node replaced", []ClusterNode{a, cMoved}, 4},
		{"unchanged after replacement", []ClusterNode{cMoved, a}, 4},
		{"all nodes removed", nil, 5},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.SetNodes(st.nodes)
			if got := e.Version(); got != st.want {
				t.Errorf("Version() = %d, want %d", got, st.want)
			}
			want := string(configReply(ConfigPayload(st.want, st.nodes)))
			if got := exchange(t, conn, []string{"config get cluster\r\n"}, want); got != want {
				t.Errorf("config get cluster = %q, want %q", got, want)
			}
		})
	}
}

// memcachedGet fetches key directly from a node ("" when missing).
func memcachedGet(t testing.TB, addr, key string) string {
	t.Helper()
	c := dial(t, addr)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "get "+key+"\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := bufio.NewReader(c)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if line == "END\r\n" {
			break
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimSuffix(lines[len(lines)-1], "\r\n")
}

func memcachedSet(t testing.TB, addr, key, value string) {
	t.Helper()
	c := dial(t, addr)
	want := "STORED\r\n"
	send := "set " + key + " 0 0 " + strconv.Itoa(len(value)) + "\r\n" + value + "\r\n"
	if got := exchange(t, c, []string{send}, want); got != want {
		t.Fatalf("set %s: reply %q", key, got)
	}
}

// nodeOf describes the node listening on addr with the given hostname.
func nodeOf(t testing.TB, host, addr string) ClusterNode {
	t.Helper()
	ip, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		t.Fatal(err)
	}
	return ClusterNode{Host: host, IP: ip, Port: p}
}

func TestMemcachedConfigEndpointPipe(t *testing.T) {
	node := startMemcached(t)
	nodeVersion, err := memcache.Version(context.Background(), node, nil)
	if err != nil {
		t.Fatalf("node version: %v", err)
	}
	memcachedSet(t, node, "pre", "v")

	e := newConfigEndpoint(t)
	e.SetNodes([]ClusterNode{nodeOf(t, "c.0001.cache.local", node)})
	cfg := string(configReply(e.Payload()))

	// A multi-get whose line is longer than 2048 bytes, sent in two parts.
	var long strings.Builder
	long.WriteString("get")
	for long.Len() < 2500 {
		long.WriteString(" missing-" + strconv.Itoa(long.Len()))
	}
	long.WriteString(" pre\r\n")
	longLine := long.String()

	// Binary-protocol VERSION request and its expected response.
	binReq := make([]byte, 24)
	binReq[0], binReq[1] = 0x80, 0x0b
	version := strings.TrimPrefix(nodeVersion, "VERSION ")
	binResp := make([]byte, 24, 24+len(version))
	binResp[0], binResp[1] = 0x81, 0x0b
	binary.BigEndian.PutUint32(binResp[8:12], uint32(len(version)))
	binResp = append(binResp, version...)

	tests := []struct {
		name string
		send []string
		want string
	}{
		{"set and get", []string{"set k1 0 0 2\r\nhi\r\nget k1\r\n"}, "STORED\r\nVALUE k1 0 2\r\nhi\r\nEND\r\n"},
		{"config then data on one connection",
			[]string{"config get cluster\r\n", "set k2 0 0 3\r\nabc\r\nget k2 pre\r\n"},
			cfg + "STORED\r\nVALUE k2 0 3\r\nabc\r\nVALUE pre 0 1\r\nv\r\nEND\r\n"},
		{"version asks a node", []string{"version\r\n"}, nodeVersion + "\r\n"},
		{"binary protocol", []string{string(binReq)}, string(binResp)},
		{"line over 2048 bytes", []string{longLine[:2100], longLine[2100:]}, "VALUE pre 0 1\r\nv\r\nEND\r\n"},
		{"unknown config key goes to the node", []string{"config get other\r\n"}, "ERROR\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, e.Addr().String())
			if got := exchange(t, c, tt.send, tt.want); got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
		})
	}

	for key, want := range map[string]string{"k1": "hi", "k2": "abc"} {
		if got := memcachedGet(t, node, key); got != want {
			t.Errorf("node get %s = %q, want %q", key, got, want)
		}
	}
}

func TestMemcachedConfigEndpointRoundRobin(t *testing.T) {
	n1, n2 := startMemcached(t), startMemcached(t)
	memcachedSet(t, n1, "who", "1")
	memcachedSet(t, n2, "who", "2")
	reply := func(v string) string { return "VALUE who 0 1\r\n" + v + "\r\nEND\r\n" }

	tests := []struct {
		name  string
		nodes []ClusterNode
		want  []string
	}{
		{"two nodes alternate", []ClusterNode{nodeOf(t, "c.0001.cache.local", n1), nodeOf(t, "c.0002.cache.local", n2)}, []string{"1", "2", "1", "2"}},
		{"dead node skipped", []ClusterNode{{Host: "c.0001.cache.local", IP: "127.0.0.1", Port: freePort(t)}, nodeOf(t, "c.0002.cache.local", n2)}, []string{"2", "2", "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newConfigEndpoint(t)
			e.SetNodes(tt.nodes)
			for i, w := range tt.want {
				c := dial(t, e.Addr().String())
				if got := exchange(t, c, []string{"get who\r\n"}, reply(w)); got != reply(w) {
					t.Errorf("connection %d: reply %q, want %q", i, got, reply(w))
				}
			}
		})
	}
}

func TestMemcachedConfigEndpointNoNodes(t *testing.T) {
	e := newConfigEndpoint(t)
	tests := []struct {
		name  string
		send  string
		want  string
		close bool
	}{
		{"config get cluster", "config get cluster\r\n", "CONFIG cluster 0 3\r\n0\n\n\r\nEND\r\n", false},
		{"version without nodes", "version\r\n", "SERVER_ERROR no cache node reachable\r\n", false},
		{"data command", "get foo\r\n", "SERVER_ERROR no cache node reachable\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, e.Addr().String())
			if got := exchange(t, c, []string{tt.send}, tt.want); got != tt.want {
				t.Errorf("reply = %q, want %q", got, tt.want)
			}
			if tt.close {
				expectClosed(t, c)
			}
		})
	}
}

func TestSeedMemcachedNode(t *testing.T) {
	node := startMemcached(t)
	e := newConfigEndpoint(t)
	e.SetNodes([]ClusterNode{nodeOf(t, "c.0001.cache.local", node)})
	payload := e.Payload()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		addr    string
		wantErr bool
	}{
		{"real node", context.Background(), node, false},
		{"cancelled context", cancelled, node, true},
		{"nothing listening", context.Background(), deadAddr(t), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(tt.ctx, 5*time.Second)
			defer cancel()
			err := SeedMemcachedNode(ctx, tt.addr, payload)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("SeedMemcachedNode error = %v, want error %v", err, tt.wantErr)
			}
		})
	}

	// An old client asking the node directly gets byte for byte what the
	// configuration endpoint answers.
	req := "get " + ClusterKey + "\r\n"
	want := exchange(t, dial(t, e.Addr().String()), []string{req}, string(valueReply(payload)))
	if got := exchange(t, dial(t, node), []string{req}, want); got != want {
		t.Errorf("node reply = %q, want %q", got, want)
	}
}

func TestMemcachedConfigEndpointCloseNoGoroutineLeak(t *testing.T) {
	node := startMemcached(t)
	settle()
	before := runtime.NumGoroutine()

	e, err := ListenMemcachedConfig("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("ListenMemcachedConfig: %v", err)
	}
	e.SetNodes([]ClusterNode{nodeOf(t, "c.0001.cache.local", node)})
	cfg := string(configReply(e.Payload()))
	var clients []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", e.Addr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		clients = append(clients, c)
		exchange(t, c, []string{"config get cluster\r\n"}, cfg) // command mode
		if i > 0 {
			exchange(t, c, []string{"get nothing\r\n"}, "END\r\n") // piped
		}
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, c := range clients {
		expectClosed(t, c)
		c.Close()
	}
	if got := waitGoroutines(before); got > before {
		t.Errorf("goroutines after Close = %d, want <= %d\n%s", got, before, goroutineDump())
	}
}
