package process

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resp"
)

// idleCount is how many idle engines of shape the pool holds.
func (w *warmPool) idleCount(s WarmShape) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.idle[s])
}

// warmDriver opens a driver on a new data directory that keeps size idle engines of shape, and waits for
// them; it returns their pids.
func warmDriver(t *testing.T, shape WarmShape, size int) (dir string, d *Driver, warm map[int]bool) {
	t.Helper()
	dir = newDataDir(t)
	d = newDriver(t, dir)
	if err := d.KeepWarm(size, []WarmShape{shape}); err != nil {
		t.Fatal(err)
	}
	return dir, d, waitWarm(t, d, shape, size)
}

// waitWarm waits until the driver's pool holds n idle engines of shape, and returns their pids.
func waitWarm(t *testing.T, d *Driver, s WarmShape, n int) map[int]bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for d.warm.idleCount(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle engines of %+v after 30 s, want %d", d.warm.idleCount(s), s, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pids := map[int]bool{}
	d.warm.mu.Lock()
	for _, e := range d.warm.idle[s] {
		pids[e.p.pid] = true
	}
	d.warm.mu.Unlock()
	return pids
}

func TestWarmEngineBecomesANode(t *testing.T) {
	for _, e := range []driver.Engine{driver.EngineValkey, driver.EngineRedis} {
		t.Run(string(e), func(t *testing.T) {
			shape := WarmShape{Engine: e, Binary: binary(t, e)}
			dir, d, warm := warmDriver(t, shape, 1)

			spec := newSpec(t, e, "claimed")
			spec.Bind = []string{"127.0.0.1"}
			// A setting that differs from the engine's default, one equal to it that cannot change at run time,
			// and a quoted empty value as the config file has it.
			spec.Config = map[string]string{"maxmemory-policy": "allkeys-lfu", "databases": "16", "notify-keyspace-events": `""`}
			st := ensure(t, d, spec)
			if !warm[st.PID] {
				t.Fatalf("node runs pid %d, want the warm engine's (%v)", st.PID, warm)
			}
			c := dialEngine(t, spec.Port)
			for name, want := range map[string]string{
				"maxmemory": strconv.FormatInt(spec.MaxMemoryBytes, 10), "maxmemory-policy": "allkeys-lfu",
				"port": strconv.Itoa(spec.Port), "bind": "127.0.0.1", "dir": filepath.Join(dir, "nodes", "claimed"),
			} {
				if got := c.configGet(name); got != want {
					t.Errorf("CONFIG GET %s = %q, want %q", name, got, want)
				}
			}
			roundTrip(t, e, spec.Port, "", "k", "v")
			// The engine's log and pid file moved with its directory.
			if b, err := os.ReadFile(filepath.Join(dir, "nodes", "claimed", logFileName)); err != nil || !strings.Contains(string(b), "Ready to accept connections") {
				t.Errorf("the node's engine.log lacks the engine's start: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "nodes", "claimed", string(e)+".pid")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(st.PID) {
				t.Errorf("pid file: %q, %v", b, err)
			}
			if rec, err := readRecord(filepath.Join(dir, "nodes", "claimed")); err != nil || rec.PID != st.PID || rec.BusAddress != "" {
				t.Errorf("node.json: %+v, %v", rec, err)
			}
			// The pool starts another engine.
			again := waitWarm(t, d, shape, 1)
			if again[st.PID] {
				t.Fatal("the claimed engine is still idle in the pool")
			}

			// A claimed engine is the node's like any other: its crash is reported, a restart starts it cold
			// with the node's settings.
			if err := d.Kill(t.Context(), "claimed"); err != nil {
				t.Fatal(err)
			}
			waitExit(t, d, "claimed", 5*time.Second)
			restarted, err := d.Restart(t.Context(), "claimed")
			if err != nil {
				t.Fatal(err)
			}
			if restarted.PID == st.PID || again[restarted.PID] {
				t.Fatalf("restart runs pid %d", restarted.PID)
			}
			if got := dialEngine(t, spec.Port).configGet("maxmemory-policy"); got != "allkeys-lfu" {
				t.Errorf("after a restart, maxmemory-policy = %q", got)
			}
		})
	}
}

func TestWarmEnginesAreNotForEveryNode(t *testing.T) {
	_, d, warm := warmDriver(t, WarmShape{Engine: driver.EngineValkey, Binary: binary(t, driver.EngineValkey)}, 1)
	spec := newSpec(t, driver.EngineValkey, "secret")
	spec.Password = "a-password-of-16-chars"
	st := ensure(t, d, spec)
	if warm[st.PID] {
		t.Fatal("a node with a password took a warm engine")
	}
	// A setting the warm engine cannot take at run time: the node starts cold, the engine is dropped.
	spec = newSpec(t, driver.EngineValkey, "io")
	spec.Bind = []string{"127.0.0.1"}
	spec.Config = map[string]string{"io-threads": "2"}
	st = ensure(t, d, spec)
	if warm[st.PID] {
		t.Fatal("a node with io-threads 2 runs the warm engine")
	}
	if got := dialEngine(t, spec.Port).configGet("io-threads"); got != "2" {
		t.Errorf("io-threads = %q", got)
	}
	for pid := range warm {
		if !pidGone(pid) {
			t.Errorf("the warm engine %d that could not take the node still runs", pid)
		}
	}
}

func TestWarmEnginesLeftByACrashAreKilled(t *testing.T) {
	dir, _, warm := warmDriver(t, WarmShape{Engine: driver.EngineValkey, Binary: binary(t, driver.EngineValkey)}, 1)
	// Another driver on the same data directory, as after a crash of the first one's ecache.
	d2 := newDriver(t, dir)
	if err := d2.KeepWarm(0, nil); err != nil {
		t.Fatal(err)
	}
	for pid := range warm {
		if !pidGone(pid) {
			t.Errorf("idle engine %d left by an earlier driver still runs", pid)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, warmDirName)); len(entries) != 0 {
		t.Errorf("warm directories left: %d", len(entries))
	}
}

func TestWarmClusterEngines(t *testing.T) {
	dir, d, warm := warmDriver(t, WarmShape{Engine: driver.EngineValkey, Binary: binary(t, driver.EngineValkey), Cluster: true}, 2)
	var nodes []resp.Node
	for _, id := range []string{"primary", "replica"} {
		spec := newSpec(t, driver.EngineValkey, id)
		spec.Bind = []string{"127.0.0.1"}
		spec.Config = map[string]string{"cluster-enabled": "yes", "cluster-port": strconv.Itoa(freePort(t)),
			"cluster-node-timeout": "5000", "databases": "16"}
		st := ensure(t, d, spec)
		if !warm[st.PID] {
			t.Fatalf("%s runs pid %d, not a warm engine", id, st.PID)
		}
		rec, err := readRecord(filepath.Join(dir, "nodes", id))
		if err != nil || !strings.HasPrefix(rec.BusAddress, "127.2.") {
			t.Fatalf("%s: bus address %q (%v)", id, rec.BusAddress, err)
		}
		if got := dialEngine(t, spec.Port).configGet("cluster-announce-ip"); got != rec.BusAddress {
			t.Errorf("%s announces %q to the cluster, want its bus address %s", id, got, rec.BusAddress)
		}
		nodes = append(nodes, resp.Node{Addr: addr(spec.Port)})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	shard := clustermode.ShardSpec{Primary: nodes[0], Replicas: nodes[1:], Slots: []hashslot.Range{{Start: 0, End: hashslot.NumSlots - 1}}}
	if err := clustermode.Create(ctx, []clustermode.ShardSpec{shard}); err != nil {
		t.Fatal(err)
	}
	// Clients are told the nodes' own addresses; the formation's shorter node timeout is undone.
	shards, err := clustermode.Inspect(ctx, nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 1 || shards[0].PrimaryAddr != nodes[0].Addr || len(shards[0].Replicas) != 1 || shards[0].Replicas[0] != nodes[1].Addr {
		t.Errorf("the cluster's shards as the engines see them: %+v", shards)
	}
	c := dialEngine(t, portOf(t, nodes[0].Addr))
	if got := c.configGet("cluster-node-timeout"); got != "5000" {
		t.Errorf("cluster-node-timeout after forming = %s", got)
	}
	if got, _ := json.Marshal(c.do("CLUSTER", "SLOTS")); !strings.Contains(string(got), `"127.0.0.1"`) || strings.Contains(string(got), "127.2.") {
		t.Errorf("CLUSTER SLOTS names %s", got)
	}
}

func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, _ := strings.Cut(hostport, ":")
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
