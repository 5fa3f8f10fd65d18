package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecache/ecache/internal/driver"
)

func TestEnsureStartsEngines(t *testing.T) {
	tests := []struct {
		engine     driver.Engine
		config     map[string]string
		threads    int
		configFile string
	}{
		{engine: driver.EngineRedis, config: map[string]string{"maxmemory-policy": "volatile-lru"}, configFile: "redis.conf"},
		{engine: driver.EngineValkey, config: map[string]string{"maxmemory-policy": "allkeys-lfu"}, configFile: "valkey.conf"},
		{engine: driver.EngineMemcached, threads: 2, configFile: "memcached.args"},
	}
	for _, tt := range tests {
		t.Run(string(tt.engine), func(t *testing.T) {
			dir := newDataDir(t)
			d := newDriver(t, dir)
			spec := newSpec(t, tt.engine, "demo-0001")
			spec.MaxMemoryBytes = 48 << 20
			spec.Config = tt.config
			spec.Threads = tt.threads
			st := ensure(t, d, spec)

			roundTrip(t, tt.engine, spec.Port, "", "greeting", "hello world")

			c := dialEngine(t, spec.Port)
			if tt.engine.RESP() {
				if got, want := c.configGet("maxmemory"), strconv.FormatInt(spec.MaxMemoryBytes, 10); got != want {
					t.Errorf("CONFIG GET maxmemory = %s, want %s", got, want)
				}
				for k, want := range tt.config {
					if got := c.configGet(k); got != want {
						t.Errorf("CONFIG GET %s = %s, want %s", k, got, want)
					}
				}
				if got := c.configGet("save"); got != "" {
					t.Errorf("CONFIG GET save = %q, want \"\"", got)
				}
				if got := c.configGet("bind"); got != "127.0.0.1" {
					t.Errorf("CONFIG GET bind = %q, want 127.0.0.1", got)
				}
			} else {
				if got, want := c.mcStat("settings", "maxbytes"), strconv.FormatInt(spec.MaxMemoryBytes, 10); got != want {
					t.Errorf("stats settings maxbytes = %s, want %s", got, want)
				}
				if got, want := c.mcStat("settings", "num_threads"), "2"; got != want {
					t.Errorf("stats settings num_threads = %s, want %s", got, want)
				}
				if got, want := c.mcStat("settings", "udpport"), "0"; got != want {
					t.Errorf("stats settings udpport = %s, want %s", got, want)
				}
			}
			if got := c.mcStatOrPID(tt.engine); got != st.PID {
				t.Errorf("engine reports pid %d, Ensure reported %d", got, st.PID)
			}

			nodeDir := filepath.Join(dir, "nodes", spec.ID)
			for _, f := range []string{"node.json", tt.configFile, "engine.log"} {
				if _, err := os.Stat(filepath.Join(nodeDir, f)); err != nil {
					t.Errorf("node directory lacks %s: %v", f, err)
				}
			}
			rec, err := readRecord(nodeDir)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := readStat(st.PID)
			if err != nil {
				t.Fatal(err)
			}
			if rec.PID != st.PID || rec.StartTime != ps.startTime || rec.Spec.Port != spec.Port {
				t.Errorf("node.json = pid %d start %d port %d, want pid %d start %d port %d",
					rec.PID, rec.StartTime, rec.Spec.Port, st.PID, ps.startTime, spec.Port)
			}
			// The engine runs in a session of its own, so it outlives ecache's.
			if sid, err := unix.Getsid(st.PID); err != nil || sid != st.PID {
				t.Errorf("engine session id = %d (%v), want its own pid %d", sid, err, st.PID)
			}
		})
	}
}

// mcStatOrPID asks the engine for its own pid: INFO server on redis/valkey, stats on memcached.
func (c *client) mcStatOrPID(e driver.Engine) int {
	c.t.Helper()
	if !e.RESP() {
		pid, _ := strconv.Atoi(c.mcStat("", "pid"))
		return pid
	}
	info, _ := c.do("INFO", "server").(string)
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "process_id:"); ok {
			pid, _ := strconv.Atoi(v)
			return pid
		}
	}
	c.t.Fatalf("INFO server has no process_id: %q", info)
	return 0
}

func TestEnsurePassword(t *testing.T) {
	for _, e := range []driver.Engine{driver.EngineRedis, driver.EngineValkey} {
		t.Run(string(e), func(t *testing.T) {
			d := newDriver(t, newDataDir(t))
			spec := newSpec(t, e, "auth-0001")
			spec.Password = `s3cret "quoted" \ pass`
			ensure(t, d, spec)
			c := dialEngine(t, spec.Port)
			if err, ok := c.do("GET", "k").(error); !ok || !strings.HasPrefix(err.Error(), "NOAUTH") {
				t.Errorf("GET without AUTH = %v, want a NOAUTH error", err)
			}
			roundTrip(t, e, spec.Port, spec.Password, "k", "v")
		})
	}
}

func TestEnsureTwiceAdopts(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			d := newDriver(t, newDataDir(t))
			spec := newSpec(t, e, "twice-0001")
			first := ensure(t, d, spec)
			second := ensure(t, d, spec)
			if second.PID != first.PID {
				t.Errorf("second Ensure pid = %d, want %d (the same process)", second.PID, first.PID)
			}
			noExit(t, d, 100*time.Millisecond)
		})
	}
}

// TestAdoptAfterRestart simulates an ecache restart: a second driver on the same data directory adopts
// the engine the first one started, and still reports its death.
func TestAdoptAfterRestart(t *testing.T) {
	tests := []struct {
		name     string
		engine   driver.Engine
		usePidfd bool
	}{
		{"redis/pidfd", driver.EngineRedis, true},
		{"valkey/pidfd", driver.EngineValkey, true},
		{"memcached/pidfd", driver.EngineMemcached, true},
		{"redis/proc-polling", driver.EngineRedis, false},
		{"memcached/proc-polling", driver.EngineMemcached, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDataDir(t)
			d1 := newDriver(t, dir)
			spec := newSpec(t, tt.engine, "adopt-0001")
			first := ensure(t, d1, spec)
			roundTrip(t, tt.engine, spec.Port, "", "survives", "restart")
			if err := d1.Close(); err != nil {
				t.Fatal(err)
			}
			if _, open := <-d1.Exits(); open {
				t.Error("Exits() still open after Close")
			}
			if pidGone(first.PID) {
				t.Fatal("Close stopped the engine; engines must outlive the driver")
			}

			d2, err := open(dir, nil, tt.usePidfd)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d2.Close() })
			st, err := d2.Status(t.Context(), spec.ID)
			if err != nil {
				t.Fatalf("Status after restart: %v", err)
			}
			if st.State != driver.StateRunning || !st.Healthy || st.PID != first.PID {
				t.Fatalf("Status after restart = %+v, want running, healthy, pid %d", st, first.PID)
			}
			if got, ok := readValue(t, tt.engine, spec.Port, "survives"); !ok || got != "restart" {
				t.Errorf("value after adoption = %q, %v; want the data written before", got, ok)
			}
			d2.mu.Lock()
			p := d2.nodes[spec.ID].p
			d2.mu.Unlock()
			p.mu.Lock()
			watchedByPidfd := p.pidfd >= 0
			p.mu.Unlock()
			if watchedByPidfd != tt.usePidfd {
				t.Errorf("watched by pidfd = %v, want %v", watchedByPidfd, tt.usePidfd)
			}
			if again := ensure(t, d2, spec); again.PID != first.PID {
				t.Errorf("Ensure after restart pid = %d, want the adopted %d", again.PID, first.PID)
			}

			if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			took := waitExit(t, d2, spec.ID, 2*time.Second)
			if took > time.Second {
				t.Errorf("exit of an adopted engine detected after %s, want well under a second", took)
			}
			st, err = d2.Status(t.Context(), spec.ID)
			if err != nil || st.State != driver.StateStopped || st.Healthy || st.PID != 0 {
				t.Errorf("Status after kill = %+v, %v; want stopped, unhealthy, no pid", st, err)
			}
		})
	}
}

func TestKillIsReportedAndEnsureRestarts(t *testing.T) {
	kills := map[string]func(d *Driver, st driver.NodeStatus) error{
		"kill -9":     func(_ *Driver, st driver.NodeStatus) error { return syscall.Kill(st.PID, syscall.SIGKILL) },
		"Driver.Kill": func(d *Driver, st driver.NodeStatus) error { return d.Kill(t.Context(), st.ID) },
	}
	for _, e := range allEngines {
		for how, kill := range kills {
			t.Run(string(e)+"/"+how, func(t *testing.T) { killAndRestart(t, e, kill) })
		}
	}
	d := newDriver(t, newDataDir(t))
	if err := d.Kill(t.Context(), "never-ensured"); !errors.Is(err, driver.ErrUnknownNode) {
		t.Errorf("Kill of an unknown node: %v, want ErrUnknownNode", err)
	}
}

func killAndRestart(t *testing.T, e driver.Engine, kill func(*Driver, driver.NodeStatus) error) {
	d := newDriver(t, newDataDir(t))
	spec := newSpec(t, e, "crash-0001")
	first := ensure(t, d, spec)

	if err := kill(d, first); err != nil {
		t.Fatal(err)
	}
	if took := waitExit(t, d, spec.ID, 2*time.Second); took > 500*time.Millisecond {
		t.Errorf("kill -9 detected after %s, want well under a second", took)
	}
	st, err := d.Status(t.Context(), spec.ID)
	if err != nil || st.State != driver.StateStopped || st.Healthy || st.PID != 0 {
		t.Fatalf("Status after kill = %+v, %v; want stopped, unhealthy, no pid", st, err)
	}
	rec, err := readRecord(filepath.Join(d.nodesDir, spec.ID))
	if err != nil || rec.PID != first.PID {
		t.Errorf("node.json pid after crash = %d, %v; want the dead pid %d kept (never adopted: it is dead)", rec.PID, err, first.PID)
	}

	second := ensure(t, d, spec)
	if second.PID == first.PID {
		t.Errorf("Ensure after kill pid = %d, want a new process", second.PID)
	}
	roundTrip(t, e, spec.Port, "", "after", "crash")
	noExit(t, d, 100*time.Millisecond)
}

func TestRestart(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			d := newDriver(t, newDataDir(t))
			spec := newSpec(t, e, "restart-0001")
			first := ensure(t, d, spec)
			marker := filepath.Join(d.nodesDir, spec.ID, "marker")
			if err := os.WriteFile(marker, []byte("kept"), 0o600); err != nil {
				t.Fatal(err)
			}

			st, err := d.Restart(t.Context(), spec.ID)
			if err != nil {
				t.Fatalf("Restart: %v", err)
			}
			if st.PID == first.PID || st.State != driver.StateRunning || !st.Healthy {
				t.Errorf("Restart = %+v, want running and healthy with a pid other than %d", st, first.PID)
			}
			if !pidGone(first.PID) {
				t.Errorf("old pid %d still runs after Restart", first.PID)
			}
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("data directory not kept across Restart: %v", err)
			}
			roundTrip(t, e, spec.Port, "", "after", "restart")
			noExit(t, d, 200*time.Millisecond) // a requested stop is not a crash

			// Restart of a dead node starts it.
			syscall.Kill(st.PID, syscall.SIGKILL)
			waitExit(t, d, spec.ID, 2*time.Second)
			again, err := d.Restart(t.Context(), spec.ID)
			if err != nil || again.State != driver.StateRunning || again.PID == st.PID {
				t.Errorf("Restart of a dead node = %+v, %v; want a new running process", again, err)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			dir := newDataDir(t)
			d := newDriver(t, dir)
			spec := newSpec(t, e, "remove-0001")
			st := ensure(t, d, spec)

			if err := d.Remove(t.Context(), spec.ID); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if !pidGone(st.PID) {
				t.Errorf("pid %d still runs after Remove", st.PID)
			}
			if pids := nodePIDs(t, dir); len(pids) > 0 {
				t.Errorf("engine processes left after Remove: %v", pids)
			}
			if _, err := os.Stat(filepath.Join(dir, "nodes", spec.ID)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("node directory after Remove: %v, want it gone", err)
			}
			if !PortFree(spec.Port) {
				t.Errorf("port %d still taken after Remove", spec.Port)
			}
			if _, err := d.Status(t.Context(), spec.ID); !errors.Is(err, driver.ErrUnknownNode) {
				t.Errorf("Status after Remove: %v, want ErrUnknownNode", err)
			}
			if err := d.Remove(t.Context(), spec.ID); err != nil {
				t.Errorf("second Remove: %v, want nil", err)
			}
			noExit(t, d, 200*time.Millisecond)
		})
	}
}

func TestRemoveKillsEngineIgnoringSIGTERM(t *testing.T) {
	d := newDriver(t, newDataDir(t))
	d.stopGrace = 200 * time.Millisecond
	spec := newSpec(t, driver.EngineRedis, "stubborn-0001")
	st := ensure(t, d, spec)
	// Stop the engine so it cannot act on SIGTERM; only SIGKILL ends it.
	if err := syscall.Kill(st.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Remove(t.Context(), spec.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if !pidGone(st.PID) {
		t.Errorf("pid %d still runs after Remove", st.PID)
	}
	if took := time.Since(start); took < d.stopGrace {
		t.Errorf("Remove took %s, want at least the %s grace", took, d.stopGrace)
	}
}

func TestPortInUse(t *testing.T) {
	tests := []struct {
		name      string
		engine    driver.Engine
		checkPort bool   // driver refuses before launching
		wantErr   string // in the error message
	}{
		{"redis/checked", driver.EngineRedis, true, "port already in use: port %d"},
		{"memcached/checked", driver.EngineMemcached, true, "port already in use: port %d"},
		// Without the check the engine itself fails to bind; the error carries engine.log's tail.
		{"redis/engine", driver.EngineRedis, false, "Address already in use"},
		{"valkey/engine", driver.EngineValkey, false, "Address already in use"},
		{"memcached/engine", driver.EngineMemcached, false, "Address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDataDir(t)
			d := newDriver(t, dir)
			d.checkPort = tt.checkPort
			spec := newSpec(t, tt.engine, "busy-0001")
			l, err := net.Listen("tcp", addr(spec.Port))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			st, err := d.Ensure(ctx, spec)
			want := tt.wantErr
			if strings.Contains(want, "%d") {
				want = strings.Replace(want, "%d", strconv.Itoa(spec.Port), 1)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Ensure on a taken port: err = %v, want it to mention %q", err, want)
			}
			if tt.checkPort && !errors.Is(err, driver.ErrPortInUse) {
				t.Errorf("err = %v, want errors.Is driver.ErrPortInUse", err)
			}
			if errors.Is(err, driver.ErrConfigRejected) {
				t.Errorf("err = %v: a taken port is not a refused configuration", err)
			}
			t.Logf("error: %v", err)
			if st.State != driver.StateStopped || st.PID != 0 {
				t.Errorf("status after failed Ensure = %+v, want stopped without pid", st)
			}
			if pids := nodePIDs(t, dir); len(pids) > 0 {
				t.Errorf("engine processes left after a failed Ensure: %v", pids)
			}
			noExit(t, d, 100*time.Millisecond)

			// Once the port is free the same spec starts.
			l.Close()
			ensure(t, d, spec)
		})
	}
}

// An engine that refuses its configuration is reported as such (ErrConfigRejected), with its own words, and
// leaves no process behind.
func TestEnsureBadConfigReportsEngineLog(t *testing.T) {
	for _, tt := range []struct {
		engine driver.Engine
		edit   func(*driver.NodeSpec)
		words  string // from engine.log
	}{
		{driver.EngineRedis, func(s *driver.NodeSpec) { s.Config = map[string]string{"no-such-directive": "1"} }, "no-such-directive"},
		{driver.EngineValkey, func(s *driver.NodeSpec) { s.Config = map[string]string{"maxmemory-policy": "bogus"} }, "maxmemory-policy"},
		{driver.EngineMemcached, func(s *driver.NodeSpec) { s.Args = []string{"-f", "0.5"} }, "Factor must be greater than 1"},
	} {
		t.Run(string(tt.engine), func(t *testing.T) {
			dir := newDataDir(t)
			d := newDriver(t, dir)
			spec := newSpec(t, tt.engine, "badconf-0001")
			tt.edit(&spec)
			_, err := d.Ensure(t.Context(), spec)
			if err == nil || !strings.Contains(err.Error(), "engine.log") || !strings.Contains(err.Error(), tt.words) {
				t.Fatalf("Ensure with a bad setting: err = %v, want engine.log's complaint %q", err, tt.words)
			}
			if !errors.Is(err, driver.ErrConfigRejected) {
				t.Errorf("err = %v, want errors.Is driver.ErrConfigRejected", err)
			}
			if ce, ok := errors.AsType[*driver.Refusal](err); !ok || !strings.Contains(ce.Reason, tt.words) {
				t.Errorf("err = %#v, want a driver.Refusal whose Reason quotes %q", err, tt.words)
			}
			if pids := nodePIDs(t, dir); len(pids) > 0 {
				t.Errorf("engine processes left after a failed Ensure: %v", pids)
			}
		})
	}
}

func TestEnsureRejectsInvalidSpecs(t *testing.T) {
	redis := binary(t, driver.EngineRedis)
	valid := driver.NodeSpec{ID: "ok-0001", Engine: driver.EngineRedis, Binary: redis, Port: 40000}
	tests := []struct {
		name    string
		mutate  func(*driver.NodeSpec)
		wantErr string
	}{
		{"empty id", func(s *driver.NodeSpec) { s.ID = "" }, "invalid id"},
		{"id with slash", func(s *driver.NodeSpec) { s.ID = "../etc" }, "invalid id"},
		{"uppercase id", func(s *driver.NodeSpec) { s.ID = "Demo" }, "invalid id"},
		{"unknown engine", func(s *driver.NodeSpec) { s.Engine = "etcd" }, "unsupported engine"},
		{"relative binary", func(s *driver.NodeSpec) { s.Binary = "redis-server" }, "not an absolute path"},
		{"missing binary", func(s *driver.NodeSpec) { s.Binary = "/nonexistent/redis-server" }, "no such file"},
		{"port zero", func(s *driver.NodeSpec) { s.Port = 0 }, "out of range"},
		{"newline in value", func(s *driver.NodeSpec) { s.Config = map[string]string{"maxmemory-policy": "x\nrequirepass y"} }, "newline"},
		{"newline in name", func(s *driver.NodeSpec) { s.Config = map[string]string{"a\nb": "x"} }, "invalid directive name"},
		{"managed directive", func(s *driver.NodeSpec) { s.Config = map[string]string{"port": "1"} }, "managed by the driver"},
		{"newline in password", func(s *driver.NodeSpec) { s.Password = "a\nb" }, "password"},
	}
	dir := newDataDir(t)
	d := newDriver(t, dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := valid
			tt.mutate(&spec)
			_, err := d.Ensure(t.Context(), spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Ensure: err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "nodes")); len(ents) != 0 {
		t.Errorf("invalid specs created node directories: %v", ents)
	}
}

func TestEnsureSpecChanges(t *testing.T) {
	tests := []struct {
		name        string
		engine      driver.Engine
		config      map[string]string
		change      func(*testing.T, *driver.NodeSpec)
		wantRestart bool
	}{
		{"redis/port", driver.EngineRedis, nil, func(t *testing.T, s *driver.NodeSpec) { s.Port = freePort(t) }, true},
		{"memcached/port", driver.EngineMemcached, nil, func(t *testing.T, s *driver.NodeSpec) { s.Port = freePort(t) }, true},
		{"memcached/memory", driver.EngineMemcached, nil, func(t *testing.T, s *driver.NodeSpec) { s.MaxMemoryBytes = 80 << 20 }, true},
		{"memcached/threads", driver.EngineMemcached, nil, func(t *testing.T, s *driver.NodeSpec) { s.Threads = 3 }, true},
		{"valkey/binary", driver.EngineValkey, nil, func(t *testing.T, s *driver.NodeSpec) {
			// Same executable reached through another path: still a binary change.
			link := filepath.Join(t.TempDir(), "valkey-server")
			if err := os.Symlink(s.Binary, link); err != nil {
				t.Fatal(err)
			}
			s.Binary = link
		}, true},
		{"redis/drop directive", driver.EngineRedis, map[string]string{"maxmemory-policy": "allkeys-lru"},
			func(t *testing.T, s *driver.NodeSpec) { s.Config = nil }, true},
		// Redis/valkey accept these at runtime: applied with CONFIG SET, no restart, no data loss.
		{"redis/memory live", driver.EngineRedis, nil, func(t *testing.T, s *driver.NodeSpec) { s.MaxMemoryBytes = 80 << 20 }, false},
		{"valkey/directive live", driver.EngineValkey, map[string]string{"maxmemory-policy": "allkeys-lru"},
			func(t *testing.T, s *driver.NodeSpec) {
				s.Config = map[string]string{"maxmemory-policy": "volatile-ttl", "timeout": "300"}
			}, false},
		{"redis/password live", driver.EngineRedis, nil, func(t *testing.T, s *driver.NodeSpec) { s.Password = "new-secret" }, false},
		{"memcached/config ignored", driver.EngineMemcached, nil,
			func(t *testing.T, s *driver.NodeSpec) { s.Config = map[string]string{"anything": "x"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, newDataDir(t))
			spec := newSpec(t, tt.engine, "change-0001")
			spec.Config = tt.config
			first := ensure(t, d, spec)
			roundTrip(t, tt.engine, spec.Port, "", "before", "change")

			changed := spec
			tt.change(t, &changed)
			second := ensure(t, d, changed)
			if restarted := second.PID != first.PID; restarted != tt.wantRestart {
				t.Errorf("restarted = %v (pid %d -> %d), want %v", restarted, first.PID, second.PID, tt.wantRestart)
			}
			if tt.wantRestart && !pidGone(first.PID) {
				t.Errorf("old pid %d still runs", first.PID)
			}
			if changed.Port != spec.Port && !PortFree(spec.Port) {
				t.Errorf("old port %d still taken", spec.Port)
			}
			if second.Spec.Port != changed.Port || second.Spec.MaxMemoryBytes != changed.MaxMemoryBytes {
				t.Errorf("status spec = %+v, want %+v", second.Spec, changed)
			}
			_, kept := readValueAuth(t, tt.engine, changed.Port, changed.Password, "before")
			if kept == tt.wantRestart {
				t.Errorf("data kept = %v, want %v", kept, !tt.wantRestart)
			}

			c := dialEngine(t, changed.Port)
			if tt.engine.RESP() {
				if changed.Password != "" {
					c.do("AUTH", changed.Password)
				}
				if got, want := c.configGet("maxmemory"), strconv.FormatInt(changed.MaxMemoryBytes, 10); got != want {
					t.Errorf("maxmemory = %s, want %s", got, want)
				}
				for k, want := range changed.Config {
					if got := c.configGet(k); got != want {
						t.Errorf("%s = %s, want %s", k, got, want)
					}
				}
			} else if got, want := c.mcStat("settings", "maxbytes"), strconv.FormatInt(changed.MaxMemoryBytes, 10); got != want {
				t.Errorf("maxbytes = %s, want %s", got, want)
			}
			// The change is persisted: a restart keeps it.
			rec, err := readRecord(filepath.Join(d.nodesDir, changed.ID))
			if err != nil || !specEqual(rec.Spec, changed) {
				t.Errorf("node.json spec = %+v, %v; want %+v", rec.Spec, err, changed)
			}
			noExit(t, d, 100*time.Millisecond)
		})
	}
}

func readValueAuth(t *testing.T, e driver.Engine, port int, password, key string) (string, bool) {
	t.Helper()
	if password == "" || !e.RESP() {
		return readValue(t, e, port, key)
	}
	c := dialEngine(t, port)
	c.do("AUTH", password)
	v := c.do("GET", key)
	if v == nil {
		return "", false
	}
	return v.(string), true
}

func TestStatusAndList(t *testing.T) {
	dir := newDataDir(t)
	d := newDriver(t, dir)
	if _, err := d.Status(t.Context(), "nope-0001"); !errors.Is(err, driver.ErrUnknownNode) {
		t.Errorf("Status of an unknown node: %v, want ErrUnknownNode", err)
	}
	if _, err := d.Restart(t.Context(), "nope-0001"); !errors.Is(err, driver.ErrUnknownNode) {
		t.Errorf("Restart of an unknown node: %v, want ErrUnknownNode", err)
	}
	a := ensure(t, d, newSpec(t, driver.EngineRedis, "list-a"))
	b := ensure(t, d, newSpec(t, driver.EngineMemcached, "list-b"))
	syscall.Kill(b.PID, syscall.SIGKILL)
	waitExit(t, d, "list-b", 2*time.Second)

	check := func(t *testing.T, d *Driver) {
		t.Helper()
		got, err := d.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			id      string
			state   driver.NodeState
			healthy bool
			pid     int
		}
		want := []row{{"list-a", driver.StateRunning, true, a.PID}, {"list-b", driver.StateStopped, false, 0}}
		if len(got) != len(want) {
			t.Fatalf("List = %+v, want %d nodes", got, len(want))
		}
		for i, w := range want {
			if g := (row{got[i].ID, got[i].State, got[i].Healthy, got[i].PID}); g != w {
				t.Errorf("List[%d] = %+v, want %+v", i, g, w)
			}
		}
	}
	t.Run("same driver", func(t *testing.T) { check(t, d) })
	t.Run("after restart", func(t *testing.T) {
		d.Close()
		check(t, newDriver(t, dir)) // the dead node is listed as stopped, the live one adopted
	})
}

func TestEnsureCancelled(t *testing.T) {
	dir := newDataDir(t)
	d := newDriver(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Ensure(ctx, newSpec(t, driver.EngineRedis, "cancel-0001")); !errors.Is(err, context.Canceled) {
		t.Errorf("Ensure with a cancelled context: %v, want context.Canceled", err)
	}
	if pids := nodePIDs(t, dir); len(pids) > 0 {
		t.Errorf("engine processes left: %v", pids)
	}
}

func TestClosedDriver(t *testing.T) {
	d := newDriver(t, newDataDir(t))
	d.Close()
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := d.Ensure(t.Context(), newSpec(t, driver.EngineRedis, "closed-0001")); err == nil {
		t.Error("Ensure on a closed driver succeeded")
	}
}

func TestPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if PortFree(port) {
		t.Errorf("PortFree(%d) = true while listening on it", port)
	}
	l.Close()
	if !PortFree(port) {
		t.Errorf("PortFree(%d) = false after closing the listener", port)
	}
	for _, p := range []int{0, -1, 70000} {
		if PortFree(p) {
			t.Errorf("PortFree(%d) = true, want false", p)
		}
	}
}

// TestStayDown: a node with StayDown whose process died is not started again by Ensure, which says so with
// ErrNodeDown; a running node with StayDown is adopted as usual, and once StayDown is off Ensure starts it.
func TestStayDown(t *testing.T) {
	d := newDriver(t, newDataDir(t))
	spec := newSpec(t, driver.EngineValkey, "held-0001")
	spec.StayDown = true
	first := ensure(t, d, spec) // a running node: adopted as usual
	if again := ensure(t, d, spec); again.PID != first.PID {
		t.Fatalf("Ensure of a running StayDown node restarted it: pid %d, then %d", first.PID, again.PID)
	}
	if err := d.Kill(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	waitExit(t, d, spec.ID, 2*time.Second)
	st, err := d.Ensure(t.Context(), spec)
	if !errors.Is(err, driver.ErrNodeDown) || st.State == driver.StateRunning {
		t.Fatalf("Ensure of a dead StayDown node = %+v, %v; want it down with ErrNodeDown", st, err)
	}
	spec.StayDown = false
	if second := ensure(t, d, spec); second.PID == first.PID || second.State != driver.StateRunning {
		t.Errorf("Ensure without StayDown = %+v, want a new running process", second)
	}
}

// TestBindAddresses: an engine listens on the loopback addresses of its network type, IPv6 only or both
// families, and the driver reaches it there.
func TestBindAddresses(t *testing.T) {
	if len(loopbacks()) < 2 {
		t.Skip("this host has no IPv6 loopback")
	}
	for _, e := range allEngines {
		for _, bind := range [][]string{{"::1"}, {"127.0.0.1", "::1"}} {
			t.Run(fmt.Sprintf("%s on %v", e, bind), func(t *testing.T) {
				d := newDriver(t, newDataDir(t))
				spec := newSpec(t, e, "net-0001")
				spec.Bind = bind
				if st := ensure(t, d, spec); !st.Healthy {
					t.Fatalf("status %+v, want healthy", st)
				}
				if !answersOn("::1", spec.Port) {
					t.Errorf("nothing listens on [::1]:%d", spec.Port)
				}
				if got := answersOn("127.0.0.1", spec.Port); got != (len(bind) == 2) {
					t.Errorf("listening on 127.0.0.1:%d = %v with bind %v", spec.Port, got, bind)
				}
			})
		}
	}
	d := newDriver(t, newDataDir(t))
	spec := newSpec(t, driver.EngineRedis, "net-0002")
	spec.Bind = []string{"10.0.0.1"}
	if _, err := d.Ensure(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("a bind address off loopback: %v", err)
	}
}
