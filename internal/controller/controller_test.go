package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// fakeDriver records what the controller asks of it; nodes "run" as entries in a map.
type fakeDriver struct {
	mu       sync.Mutex
	taken    map[int]bool // ports another program holds
	nodes    map[string]driver.NodeSpec
	dead     map[string]driver.NodeSpec // killed nodes: known to the driver, stopped, until Ensure starts them
	restarts map[string]int
	exits    chan string
	// started, when set, is told of every node Ensure starts (the fake engines boot it).
	started func(spec driver.NodeSpec)
	// refusal, when set, is what an engine says as it refuses its configuration: Ensure and Restart fail with
	// driver.ErrConfigRejected instead of starting a node.
	refusal string
}

// refuse makes engines refuse their configuration with words (empty: start them again).
func (f *fakeDriver) refuse(words string) {
	f.mu.Lock()
	f.refusal = words
	f.mu.Unlock()
}

func (f *fakeDriver) refused(id string) error {
	return &driver.Refusal{Of: driver.ErrConfigRejected, Reason: f.refusal, Err: fmt.Errorf("driver: start %s: engine exited during startup (exit status 1)", id)}
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{nodes: map[string]driver.NodeSpec{}, dead: map[string]driver.NodeSpec{}, restarts: map[string]int{}, exits: make(chan string, 8)}
}

func (f *fakeDriver) Ensure(_ context.Context, spec driver.NodeSpec) (driver.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[spec.Port] {
		return driver.NodeStatus{}, fmt.Errorf("%w: port %d", driver.ErrPortInUse, spec.Port)
	}
	if _, dead := f.dead[spec.ID]; dead && spec.StayDown {
		return driver.NodeStatus{ID: spec.ID, State: driver.StateStopped, Spec: spec}, driver.ErrNodeDown
	}
	if _, running := f.nodes[spec.ID]; !running && f.refusal != "" {
		return driver.NodeStatus{ID: spec.ID, State: driver.StateStopped, Spec: spec}, f.refused(spec.ID)
	}
	if _, running := f.nodes[spec.ID]; !running && f.started != nil {
		f.started(spec)
	}
	f.nodes[spec.ID] = spec
	delete(f.dead, spec.ID)
	return driver.NodeStatus{ID: spec.ID, Port: spec.Port, State: driver.StateRunning, Healthy: true, Spec: spec}, nil
}

func (f *fakeDriver) Restart(_ context.Context, id string) (driver.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts[id]++
	if f.refusal != "" {
		f.dead[id] = f.nodes[id]
		delete(f.nodes, id)
		return driver.NodeStatus{ID: id, State: driver.StateStopped}, f.refused(id)
	}
	return driver.NodeStatus{ID: id, State: driver.StateRunning, Spec: f.nodes[id]}, nil
}

func (f *fakeDriver) Remove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nodes, id)
	delete(f.dead, id)
	return nil
}

func (f *fakeDriver) Status(_ context.Context, id string) (driver.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec, ok := f.dead[id]; ok {
		return driver.NodeStatus{ID: id, State: driver.StateStopped, Spec: spec}, nil
	}
	spec, ok := f.nodes[id]
	if !ok {
		return driver.NodeStatus{}, driver.ErrUnknownNode
	}
	return driver.NodeStatus{ID: id, State: driver.StateRunning, Spec: spec}, nil
}

func (f *fakeDriver) Peek(ctx context.Context, id string) (driver.NodeStatus, error) {
	return f.Status(ctx, id)
}

func (f *fakeDriver) List(context.Context) ([]driver.NodeStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []driver.NodeStatus
	for id, spec := range f.nodes {
		out = append(out, driver.NodeStatus{ID: id, State: driver.StateRunning, Spec: spec})
	}
	return out, nil
}

// Kill ends a node as a crash would: stopped, its exit reported, until Ensure starts it again.
func (f *fakeDriver) Kill(_ context.Context, id string) error {
	f.mu.Lock()
	spec, ok := f.nodes[id]
	if ok {
		delete(f.nodes, id)
		f.dead[id] = spec
	}
	f.mu.Unlock()
	if !ok {
		return driver.ErrUnknownNode
	}
	f.exits <- id
	return nil
}

func (f *fakeDriver) Exits() <-chan string { return f.exits }
func (f *fakeDriver) Close() error         { return nil }

func (f *fakeDriver) running() map[string]driver.NodeSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]driver.NodeSpec{}
	for k, v := range f.nodes {
		out[k] = v
	}
	return out
}

// clock is a settable time source; with tick set, time moves on by tick at every reading, so that what
// the controller records in one run is ordered.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	tick time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

// ticking makes time move on by a millisecond at every reading.
func (c *clock) ticking() {
	c.mu.Lock()
	c.tick = time.Millisecond
	c.mu.Unlock()
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

type harness struct {
	st    store.Store
	drv   *fakeDriver
	eng   *fakeEngines
	clock *clock
	ctl   *Controller
	stop  func()
	// snapshotDir is the controller's snapshot directory, kept over restarts.
	snapshotDir string
}

// start runs a controller over a memory store, a fake driver and fake engines until the test ends.
func start(t *testing.T) *harness {
	t.Helper()
	h := &harness{st: store.NewMemory(), drv: newFakeDriver(), eng: newFakeEngines(), clock: &clock{now: time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)}} // a Wednesday
	h.drv.started = h.eng.boot
	h.run(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine calls: %q", h.eng.callLog())
		}
	})
	return h
}

// run starts a controller on the harness's store, driver and engines; stop ends it, as a killed ecache
// would end, with the engines left as they are.
func (h *harness) run(t *testing.T) {
	t.Helper()
	host := engine.NewHost(engine.Binary{Engine: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"},
		engine.Binary{Engine: "memcached", Path: "/usr/bin/memcached", Version: "1.6.18"})
	if h.snapshotDir == "" {
		h.snapshotDir = t.TempDir()
	}
	h.ctl = New(h.st, h.drv, h.eng, host, Config{NodeHost: "127.0.0.1", Resync: 50 * time.Millisecond, Now: h.clock.Now,
		Ports: resource.Ports{Low: 29000, High: 29099}, SnapshotDir: h.snapshotDir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = h.ctl.Run(ctx)
		close(done)
	}()
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(h.stop)
}

func (h *harness) put(t *testing.T, c *resource.Cluster) {
	t.Helper()
	err := h.st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put(resource.KindCluster, resource.Key(c.Region, c.ID), resource.Marshal(c), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) get(t *testing.T, id string) *resource.Cluster {
	t.Helper()
	obj, err := h.st.Get(context.Background(), resource.KindCluster, resource.Key("us-east-1", id))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	c, err := resource.Unmarshal[resource.Cluster](obj.Value)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) update(t *testing.T, id string, fn func(c *resource.Cluster)) {
	t.Helper()
	c := h.get(t, id)
	fn(c)
	h.put(t, c)
}

func (h *harness) events(t *testing.T) []string {
	t.Helper()
	objs, err := h.st.List(context.Background(), resource.KindEvent)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		ev, _ := resource.Unmarshal[resource.Event](o.Value)
		out = append(out, ev.Message)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func (h *harness) waitStatus(t *testing.T, id, status string) *resource.Cluster {
	t.Helper()
	var c *resource.Cluster
	waitFor(t, id+" "+status, func() error {
		c = h.get(t, id)
		if c == nil || c.Status != status {
			return fmt.Errorf("cluster is %+v", c)
		}
		return nil
	})
	return c
}

func newRedis(id string, ports ...int) *resource.Cluster {
	c := &resource.Cluster{Region: "us-east-1", ID: id, UID: "u1", Engine: "redis", EngineVersion: "7.0", NodeType: "cache.t3.micro",
		Status: resource.StatusCreating, ParameterGroup: "default.redis7", PreferredAZ: "us-east-1a", MaintenanceWindow: "thu:03:00-thu:04:00"}
	for i, p := range ports {
		c.Nodes = append(c.Nodes, resource.Node{ID: fmt.Sprintf("%04d", i+1), Status: resource.NodeCreating, Port: p, AZ: "us-east-1a"})
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestCreateRebootDelete(t *testing.T) {
	h := start(t)
	h.put(t, newRedis("a", 29000))
	c := h.waitStatus(t, "a", resource.StatusAvailable)
	spec, ok := h.drv.running()[c.DriverID("0001")]
	if !ok {
		t.Fatalf("no engine for node 0001: %v", h.drv.running())
	}
	if spec.MaxMemoryBytes != 402653184 || spec.Port != 29000 || spec.Config["maxmemory-policy"] != "volatile-lru" {
		t.Errorf("engine spec = %+v, want maxmemory 402653184, port 29000, maxmemory-policy volatile-lru", spec)
	}
	for _, want := range []string{"Cache cluster created", "Added cache node 0001 in availability zone us-east-1a"} {
		if !contains(h.events(t), want) {
			t.Errorf("events %q lack %q", h.events(t), want)
		}
	}

	h.update(t, "a", func(c *resource.Cluster) {
		c.Status = resource.StatusRebooting
		c.Nodes[0].Reboot, c.Nodes[0].Status = true, resource.NodeRebooting
	})
	c = h.waitStatus(t, "a", resource.StatusAvailable)
	if got := h.drv.restarts[c.DriverID("0001")]; got != 1 {
		t.Errorf("restarts = %d, want 1", got)
	}
	if c.Nodes[0].Reboot {
		t.Error("reboot flag still set")
	}

	h.update(t, "a", func(c *resource.Cluster) { c.Status = resource.StatusDeleting })
	waitFor(t, "cluster deleted", func() error {
		if h.get(t, "a") != nil {
			return errors.New("still stored")
		}
		if n := len(h.drv.running()); n != 0 {
			return fmt.Errorf("%d engines running", n)
		}
		return nil
	})
}

func TestPendingWaitsForMaintenanceWindow(t *testing.T) {
	h := start(t)
	c := newRedis("m", 29000)
	c.Engine, c.EngineVersion, c.ParameterGroup, c.ConfigPort = "memcached", "1.6.22", "default.memcached1.6", 29099
	h.put(t, c)
	h.waitStatus(t, "m", resource.StatusAvailable)
	three := int32(3)
	h.update(t, "m", func(c *resource.Cluster) { c.Pending.NumNodes, c.Pending.ParameterGroup = &three, "tuned" })

	time.Sleep(200 * time.Millisecond) // several resyncs outside the window (Wednesday noon)
	if c := h.get(t, "m"); len(c.Nodes) != 1 || c.Pending.NumNodes == nil || c.ParameterGroup != "default.memcached1.6" {
		t.Fatalf("pending change applied outside the window: %d nodes, pending %v, parameter group %s", len(c.Nodes), c.Pending.NumNodes, c.ParameterGroup)
	}
	h.clock.Set(time.Date(2026, 11, 19, 3, 30, 0, 0, time.UTC)) // Thursday 03:30, inside thu:03:00-thu:04:00
	waitFor(t, "scale-out applied", func() error {
		c := h.get(t, "m")
		if c.Status != resource.StatusAvailable || len(c.Nodes) != 3 || c.Pending.NumNodes != nil {
			return fmt.Errorf("status %s, %d nodes, pending %v", c.Status, len(c.Nodes), c.Pending.NumNodes)
		}
		return nil
	})
	if n := len(h.drv.running()); n != 3 {
		t.Errorf("%d engines running, want 3", n)
	}
	c = h.get(t, "m")
	if c.Nodes[1].Port == c.Nodes[2].Port || c.Nodes[1].Port == 29000 {
		t.Errorf("new nodes got ports %d and %d", c.Nodes[1].Port, c.Nodes[2].Port)
	}
	if !contains(h.events(t), "Finished modifying number of nodes from 1 to 3") {
		t.Errorf("events %q lack the scale-out", h.events(t))
	}
	if c.ParameterGroup != "tuned" || c.Pending.ParameterGroup != "" || !contains(h.events(t), "Finished applying modification to cache parameter group to tuned.") {
		t.Errorf("parameter group %s (pending %q), events %q: want the switch to tuned applied in the window", c.ParameterGroup, c.Pending.ParameterGroup, h.events(t))
	}
}

func TestOrphanedEnginesAreRemoved(t *testing.T) {
	h := &harness{st: store.NewMemory(), drv: newFakeDriver(), eng: newFakeEngines(), clock: &clock{now: time.Now()}}
	h.drv.nodes["gone-0001-ffff"] = driver.NodeSpec{ID: "gone-0001-ffff"}
	host := engine.NewHost(engine.Binary{Engine: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"})
	ctl := New(h.st, h.drv, h.eng, host, Config{NodeHost: "127.0.0.1", Now: h.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := ctl.collectGarbage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.drv.running()); n != 0 {
		t.Errorf("%d orphaned engines left", n)
	}
}

// TestOrphanedCheckpointsAreRemoved: at start, the checkpoints of a durable group the store no longer has,
// and of a node group its group no longer has, are removed; those of the node groups it has stay.
func TestOrphanedCheckpointsAreRemoved(t *testing.T) {
	h := &harness{st: store.NewMemory(), drv: newFakeDriver(), eng: newFakeEngines(), clock: &clock{now: time.Now()}}
	g := &resource.ReplicationGroup{Region: "us-east-1", ID: "pay", UID: "abcd", Durability: "sync", NodeGroups: []resource.NodeGroup{{ID: "0001"}}}
	if err := h.st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Create(resource.KindReplicationGroup, resource.Key(g.Region, g.ID), resource.Marshal(g))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kept, removedShard, removedGroup := filepath.Join(dir, "us-east-1", "pay-abcd", "0001"), filepath.Join(dir, "us-east-1", "pay-abcd", "0002"), filepath.Join(dir, "us-east-1", "old-ffff", "0001")
	for _, d := range []string{kept, removedShard, removedGroup} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctl := New(h.st, h.drv, h.eng, engine.NewHost(), Config{NodeHost: "127.0.0.1", Now: h.clock.Now, DurableDir: dir}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := ctl.collectGarbage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("the checkpoints of a stored node group were removed: %v", err)
	}
	for _, d := range []string{removedShard, filepath.Dir(removedGroup)} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left (%v)", d, err)
		}
	}
}

func TestPruneEvents(t *testing.T) {
	h := &harness{st: store.NewMemory(), drv: newFakeDriver(), eng: newFakeEngines(), clock: &clock{now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}}
	ctl := New(h.st, h.drv, h.eng, engine.NewHost(), Config{Now: h.clock.Now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cl := newRedis("e")
	err := h.st.Update(context.Background(), func(tx store.Tx) error {
		for i, age := range []time.Duration{15 * 24 * time.Hour, 13 * 24 * time.Hour, time.Hour} {
			if err := resource.AddEvent(tx, h.clock.Now().Add(-age), i, cl.Region, resource.SourceCacheCluster, cl.ID, fmt.Sprintf("age %s", age)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.pruneEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := h.events(t)
	if len(got) != 2 || contains(got, "age 360h0m0s") {
		t.Errorf("events after pruning = %q, want the two younger than 14 days", got)
	}
}

func TestNodeMovesOffATakenPort(t *testing.T) {
	h := start(t)
	h.drv.mu.Lock()
	h.drv.taken = map[int]bool{29000: true}
	h.drv.mu.Unlock()
	h.put(t, newRedis("p", 29000))
	c := h.waitStatus(t, "p", resource.StatusAvailable)
	if got := c.Nodes[0].Port; got == 29000 || got < 29000 || got > 29099 {
		t.Errorf("node port = %d, want a free port of the range other than the taken 29000", got)
	}
	spec, ok := h.drv.running()[c.DriverID("0001")]
	if !ok || spec.Port != c.Nodes[0].Port {
		t.Errorf("engine runs on %d (running %v), want the node's new port %d", spec.Port, ok, c.Nodes[0].Port)
	}
}

// A cluster whose engine refuses its parameters shows incompatible-parameters with an event that gives the
// engine's reason, whether it is being created or rebooted into new values; it starts once they are fixed.
func TestIncompatibleParameters(t *testing.T) {
	h := start(t)
	h.drv.refuse("slab size 64 is out of valid range")
	h.put(t, newRedis("a", 29000))
	waitFor(t, "incompatible-parameters", func() error {
		if c := h.get(t, "a"); c.Incompatible != "cache node 0001: slab size 64 is out of valid range" || c.Status != resource.StatusCreating {
			return fmt.Errorf("cluster status %s, incompatible %q", c.Status, c.Incompatible)
		}
		return nil
	})
	want := "The engine cannot start with the parameters of cache parameter group default.redis7 (cache node 0001: slab size 64 is out of valid range). " +
		"Change them to values the engine accepts; the cluster starts as soon as they are."
	if !contains(h.events(t), want) {
		t.Errorf("events %q lack %q", h.events(t), want)
	}
	if n := len(h.drv.running()); n != 0 {
		t.Errorf("%d engines running", n)
	}

	// The group is fixed: the next pass starts the engine and the cluster is created.
	h.drv.refuse("")
	h.update(t, "a", func(*resource.Cluster) {})
	c := h.waitStatus(t, "a", resource.StatusAvailable)
	if c.Incompatible != "" || !contains(h.events(t), "Cache cluster created") {
		t.Errorf("after the fix: incompatible %q, events %q", c.Incompatible, h.events(t))
	}

	// A reboot into values the engine refuses leaves it down, and says why.
	h.drv.refuse("argument(s) must be one of the following: yes, no")
	h.update(t, "a", func(c *resource.Cluster) {
		c.Status = resource.StatusRebooting
		c.Nodes[0].Reboot, c.Nodes[0].Status = true, resource.NodeRebooting
	})
	waitFor(t, "incompatible after reboot", func() error {
		if c := h.get(t, "a"); !strings.Contains(c.Incompatible, "must be one of the following") {
			return fmt.Errorf("incompatible %q", c.Incompatible)
		}
		return nil
	})
	h.drv.refuse("")
	h.update(t, "a", func(*resource.Cluster) {})
	if c := h.waitStatus(t, "a", resource.StatusAvailable); c.Incompatible != "" || len(h.drv.running()) != 1 {
		t.Errorf("after the second fix: incompatible %q, running %v", c.Incompatible, h.drv.running())
	}
}
