package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/memcache"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// start runs an engine binary (skipping the test without it) and returns its address once it takes
// connections.
func start(t *testing.T, args func(port string) []string, names ...string) string {
	t.Helper()
	var bin string
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skipf("none of %v installed", names)
	}
	port := freePort(t)
	cmd := exec.Command(bin, args(port)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := "127.0.0.1:" + port
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not start", bin)
	return ""
}

// gather scrapes the collector once and returns each metric's value by name and node id.
func gather(t *testing.T, c *Collector) map[string]float64 {
	t.Helper()
	values, err := c.Values()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for node, metrics := range values {
		for name, v := range metrics {
			out[name+"/"+node.NodeID] = v
		}
	}
	return out
}

// TestMetricsMatchTheEngines: after a known number of keys, hits, misses and writes on a real Valkey (or
// Redis OSS) node and a real memcached node, a scrape reports exactly those, as the engines' own INFO and
// stats count them, under CloudWatch's names; the durability metrics come from the target.
func TestMetricsMatchTheEngines(t *testing.T) {
	ctx := context.Background()
	valkey := start(t, func(port string) []string {
		return []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "100mb"}
	}, "valkey-server", "redis-server")
	mc := start(t, func(port string) []string { return []string{"-p", port, "-l", "127.0.0.1", "-U", "0", "-u", "root"} }, "memcached")

	rdb := redis.NewClient(&redis.Options{Addr: valkey})
	defer rdb.Close()
	for i := range 5 {
		ttl := time.Duration(0)
		if i < 2 {
			ttl = time.Hour
		}
		if err := rdb.Set(ctx, fmt.Sprint("key-", i), "v", ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"key-0", "key-1", "key-2", "absent-1", "absent-2"} {
		_ = rdb.Get(ctx, k).Err()
	}
	for i := range 3 {
		if err := memcache.Set(ctx, mc, nil, fmt.Sprint("item-", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"item-0", "item-1", "absent"} {
		if _, err := memcache.RoundTrip(ctx, mc, nil, []byte("get "+k+"\r\n")); err != nil {
			t.Fatal(err)
		}
	}

	c := NewCollector(func(context.Context) ([]Target, error) {
		return []Target{
			{Region: "us-east-1", ClusterID: "v", NodeID: "0001", GroupID: "g", Engine: "valkey", Addr: valkey,
				Durability: &DurabilityStats{Lag: 1500 * time.Millisecond, BufferExceeded: 7, TrafficManagementActive: true}},
			{Region: "us-east-1", ClusterID: "m", NodeID: "0002", Engine: "memcached", Addr: mc},
		}, nil
	})
	defer c.Close()
	got := gather(t, c)
	want := map[string]float64{
		"CurrItems/0001": 5, "CurrVolatileItems/0001": 2, "CacheHits/0001": 3, "CacheMisses/0001": 2, "CacheHitRate/0001": 60,
		"SetTypeCmds/0001": 5, "GetTypeCmds/0001": 5, "IsMaster/0001": 1,
		"DurabilityLag/0001": 1500, "DurabilityBufferExceededErrorCount/0001": 7, "TrafficManagementActive/0001": 1,
		"CurrItems/0002": 3, "GetHits/0002": 2, "GetMisses/0002": 1, "CmdSet/0002": 3, "CmdGet/0002": 3,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (reported: %v), want %v", k, g, ok, v)
		}
	}
	info, err := rdb.Info(ctx, "memory", "clients", "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	fields := parseInfo(info)
	if used := number(fields["used_memory"]); got["BytesUsedForCache/0001"] < used/2 || got["BytesUsedForCache/0001"] > used*2 {
		t.Errorf("BytesUsedForCache = %v, INFO says used_memory %v", got["BytesUsedForCache/0001"], used)
	}
	if p := got["DatabaseMemoryUsagePercentage/0001"]; p <= 0 || p >= 100 {
		t.Errorf("DatabaseMemoryUsagePercentage = %v", p)
	}
	if got["CurrConnections/0001"] != number(fields["connected_clients"]) {
		t.Errorf("CurrConnections = %v, INFO says %s", got["CurrConnections/0001"], fields["connected_clients"])
	}
	for _, k := range []string{"CPUUtilization/0001", "FreeableMemory/0002", "EngineCPUUtilization/0001", "NetworkBytesIn/0001", "BytesUsedForCacheItems/0002"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s is not reported", k)
		}
	}
	if _, ok := got["DurabilityLag/0002"]; ok {
		t.Error("a node without durability reports DurabilityLag")
	}

	// A second scrape keeps the engine connection (no new connection counted) and averages CPU since the first.
	again := gather(t, c)
	if again["NewConnections/0001"] != got["NewConnections/0001"] {
		t.Errorf("NewConnections went from %v to %v between scrapes: the collector reconnected", got["NewConnections/0001"], again["NewConnections/0001"])
	}
	if u := again["EngineCPUUtilization/0001"]; u < 0 || u > 100 {
		t.Errorf("EngineCPUUtilization = %v", u)
	}

	srv := httptest.NewServer(Handler(c))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `CacheHits{CacheClusterId="v",CacheNodeId="0001",Region="us-east-1",ReplicationGroupId="g"} 3`) {
		t.Errorf("the text format lacks CacheHits with its labels:\n%s", body)
	}
}
