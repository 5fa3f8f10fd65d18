package process

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resp"
)

var engineBinaries = map[driver.Engine]string{
	driver.EngineRedis:     "redis-server",
	driver.EngineValkey:    "valkey-server",
	driver.EngineMemcached: "memcached",
}

var allEngines = []driver.Engine{driver.EngineRedis, driver.EngineValkey, driver.EngineMemcached}

// binary returns the engine's executable or skips the test when it is not installed.
func binary(t *testing.T, e driver.Engine) string {
	t.Helper()
	p, err := exec.LookPath(engineBinaries[e])
	if err != nil {
		t.Skipf("%s not installed", engineBinaries[e])
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// freePort hands out a free port in 26000-26999 that no other test of this package got.
func freePort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	off := rand.IntN(1000)
	for i := range 1000 {
		p := 26000 + (off+i)%1000
		if !portsUsed[p] && PortFree(p) {
			portsUsed[p] = true
			return p
		}
	}
	t.Fatal("no free port in 26000-26999")
	return 0
}

// newDataDir returns a data directory whose nodes are all removed when the test ends,
// whatever state the drivers the test opened on it are in.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		d, err := New(dir, nil)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer d.Close()
		d.stopGrace = 3 * time.Second
		nodes, _ := d.List(context.Background())
		for _, n := range nodes {
			if err := d.Remove(context.Background(), n.ID); err != nil {
				t.Errorf("cleanup: remove %s: %v", n.ID, err)
			}
		}
		if pids := nodePIDs(t, dir); len(pids) > 0 {
			t.Errorf("cleanup: engine processes left behind: %v", pids)
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return dir
}

// newDriver opens a driver on dataDir that is closed when the test ends.
func newDriver(t *testing.T, dataDir string) *Driver {
	t.Helper()
	d, err := New(dataDir, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New(%q): %v", dataDir, err)
	}
	d.stopGrace = 3 * time.Second
	t.Cleanup(func() { d.Close() })
	return d
}

func newSpec(t *testing.T, e driver.Engine, id string) driver.NodeSpec {
	t.Helper()
	return driver.NodeSpec{ID: id, Engine: e, Binary: binary(t, e), Port: freePort(t), MaxMemoryBytes: 32 << 20}
}

func ensure(t *testing.T, d *Driver, spec driver.NodeSpec) driver.NodeStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err := d.Ensure(ctx, spec)
	if err != nil {
		t.Fatalf("Ensure(%s): %v", spec.ID, err)
	}
	if st.State != driver.StateRunning || !st.Healthy || st.PID <= 0 || st.Port != spec.Port {
		t.Fatalf("Ensure(%s) = %+v, want running, healthy, with a pid, on port %d", spec.ID, st, spec.Port)
	}
	return st
}

// nodePIDs lists live processes whose working directory is inside dataDir (engines run in their node directory).
func nodePIDs(t *testing.T, dataDir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || !strings.HasPrefix(cwd, dataDir+string(filepath.Separator)) {
			continue
		}
		if st, err := readStat(pid); err == nil && st.state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// pidGone reports whether pid no longer runs (gone or a zombie).
func pidGone(pid int) bool {
	st, err := readStat(pid)
	return err != nil || st.state == 'Z' || st.state == 'X'
}

func waitExit(t *testing.T, d *Driver, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case got := <-d.Exits():
		if got != want {
			t.Fatalf("Exits() delivered %q, want %q", got, want)
		}
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("no exit of %s reported within %s", want, within)
	}
	return 0
}

func noExit(t *testing.T, d *Driver, within time.Duration) {
	t.Helper()
	select {
	case got := <-d.Exits():
		t.Fatalf("Exits() delivered %q, want nothing", got)
	case <-time.After(within):
	}
}

// client is a TCP client for the engines' protocols: RESP through internal/resp, memcached's text protocol
// line by line (the tests look at raw replies that internal/memcache does not expose).
type client struct {
	t  *testing.T
	c  net.Conn
	r  *bufio.Reader // memcached replies
	rr *resp.Reader  // RESP replies
}

func dialEngine(t *testing.T, port int) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err != nil {
		t.Fatalf("dial port %d: %v", port, err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) line() string {
	c.t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(s, "\r\n")
}

// do sends a RESP command and decodes the reply: string for simple/bulk strings, nil for a null bulk,
// int64 for integers, []any for arrays, error for errors.
func (c *client) do(args ...string) any {
	c.t.Helper()
	if _, err := c.c.Write(resp.AppendCommand(nil, args...)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	if c.rr == nil {
		c.rr = resp.NewReader(c.c, 4096)
	}
	v, err := c.rr.ReadValue()
	if err != nil {
		c.t.Fatalf("read reply to %v: %v", args, err)
	}
	return plain(v)
}

// plain is a RESP value as do gives it.
func plain(v resp.Value) any {
	switch {
	case v.Err() != nil:
		return v.Err()
	case v.IsNull():
		return nil
	case v.Type == resp.Integer:
		return v.Int
	case v.Type == resp.Array:
		out := make([]any, 0, len(v.Elems))
		for _, e := range v.Elems {
			out = append(out, plain(e))
		}
		return out
	}
	return v.Str
}

// configGet returns CONFIG GET name from a redis/valkey.
func (c *client) configGet(name string) string {
	c.t.Helper()
	r, ok := c.do("CONFIG", "GET", name).([]any)
	if !ok || len(r) != 2 {
		c.t.Fatalf("CONFIG GET %s = %v", name, r)
	}
	return r[1].(string)
}

// mc sends a memcached text command and returns reply lines up to and including a terminal one.
func (c *client) mc(cmd string) []string {
	c.t.Helper()
	if _, err := c.c.Write([]byte(cmd)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		switch {
		case l == "END", l == "STORED", l == "NOT_STORED", l == "DELETED", l == "NOT_FOUND",
			strings.HasPrefix(l, "VERSION "), strings.HasSuffix(l, "ERROR"), strings.HasPrefix(l, "CLIENT_ERROR"),
			strings.HasPrefix(l, "SERVER_ERROR"):
			return lines
		}
	}
}

// mcStat returns one value of "stats <group>" (group may be empty).
func (c *client) mcStat(group, name string) string {
	c.t.Helper()
	cmd := "stats\r\n"
	if group != "" {
		cmd = "stats " + group + "\r\n"
	}
	for _, l := range c.mc(cmd) {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "STAT" && f[1] == name {
			return f[2]
		}
	}
	c.t.Fatalf("stats %s: no %s", group, name)
	return ""
}

// roundTrip stores a value and reads it back through the engine's own protocol.
func roundTrip(t *testing.T, e driver.Engine, port int, password, key, value string) {
	t.Helper()
	c := dialEngine(t, port)
	if e.RESP() {
		if password != "" {
			if got := c.do("AUTH", password); got != "OK" {
				t.Fatalf("AUTH = %v, want OK", got)
			}
		}
		if got := c.do("SET", key, value); got != "OK" {
			t.Fatalf("SET = %v, want OK", got)
		}
		if got := c.do("GET", key); got != value {
			t.Fatalf("GET = %v, want %q", got, value)
		}
		return
	}
	if got := c.mc(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(value), value)); got[0] != "STORED" {
		t.Fatalf("set = %v, want STORED", got)
	}
	got := c.mc("get " + key + "\r\n")
	want := []string{fmt.Sprintf("VALUE %s 0 %d", key, len(value)), value, "END"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("get = %q, want %q", got, want)
	}
}

// readValue reads key back; ok is false when the engine does not have it.
func readValue(t *testing.T, e driver.Engine, port int, key string) (string, bool) {
	t.Helper()
	c := dialEngine(t, port)
	if e.RESP() {
		v := c.do("GET", key)
		if v == nil {
			return "", false
		}
		return v.(string), true
	}
	got := c.mc("get " + key + "\r\n")
	if len(got) < 3 {
		return "", false
	}
	return got[1], true
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// answersOn reports whether something accepts TCP connections at host:port.
func answersOn(host string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
