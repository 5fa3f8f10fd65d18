package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resp"
)

// Warm engines. A Valkey or Redis OSS process takes about 20 ms to start, and a cluster-mode primary does not
// report cluster_state:ok until 2 s after it started (CLUSTER_WRITABLE_DELAY), whatever is done to it. So
// the driver can keep engines started ahead of need, idle, in <dataDir>/warm/<id>/, each listening at an
// address of its own in 127.2.0.0/16 (port 6379, cluster bus 16379). Ensure of a new node whose spec a warm
// engine can take (see warmShapeOf) claims one instead of starting a process: CONFIG SET gives it the node's
// settings, port and bind address, and its directory is renamed to the node's (the engine keeps working in
// it: its working directory follows the rename, and its log and pid file are named relative to it).
//
// A cluster bus cannot move at run time, so a claimed cluster-mode engine keeps its bus at the warm address
// for life (node.json records it): it announces that address to the other nodes (cluster-announce-ip), and
// the node's own address to clients (cluster-announce-client-ipv4, which Valkey 8 has and Redis OSS 7.0 has
// not: cluster-mode Redis OSS nodes start cold). A restart of such a node keeps the same bus.
//
// Idle engines hold no data: Close kills them, and KeepWarm kills those a crashed ecache left.

const (
	warmDirName    = "warm"
	warmRecordName = "warm.json"
	warmPort       = 6379
	warmBusPort    = 16379
	// warmRefillDelay lets a burst of claims (a group's nodes) finish before replacements start competing
	// with it for the CPU.
	warmRefillDelay = 500 * time.Millisecond
	warmRetryDelay  = 5 * time.Second
)

// WarmShape is a kind of engine kept warm: what a node's process cannot change once started.
type WarmShape struct {
	Engine  driver.Engine
	Binary  string
	Cluster bool // cluster-enabled yes
}

// warmEngine is an idle engine of the pool. n is the node it becomes when claimed; its reaper reports on n.
type warmEngine struct {
	shape WarmShape
	addr  string
	n     *node
	p     *proc
}

// warmRecord is warm.json: enough to find an idle engine a crashed ecache left.
type warmRecord struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Binary    string `json:"binary"`
}

// warmPool holds the idle engines; its fields are guarded by mu.
type warmPool struct {
	dir  string
	size int
	wake chan struct{}

	mu      sync.Mutex
	idle    map[WarmShape][]*warmEngine
	wanted  []WarmShape         // shapes kept warm, in the order they were first wanted
	refused map[WarmShape]error // shapes a claim cannot be made of, and why
	failed  map[WarmShape]time.Time
}

// KeepWarm keeps size idle engines of each shape given, and of every other shape a node is later ensured
// with, until Close. It first kills the idle engines an earlier ecache left. Size 0 keeps none.
func (d *Driver) KeepWarm(size int, shapes []WarmShape) error {
	dir := filepath.Join(filepath.Dir(d.nodesDir), warmDirName)
	killLeftWarm(dir)
	if size <= 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	w := &warmPool{dir: dir, size: size, wake: make(chan struct{}, 1), idle: map[WarmShape][]*warmEngine{},
		refused: map[WarmShape]error{}, failed: map[WarmShape]time.Time{}}
	for _, s := range shapes {
		w.want(s)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.warm != nil {
		return errors.New("driver: closed, or already keeping engines warm")
	}
	d.warm = w
	d.wg.Add(1)
	go d.refill(w)
	return nil
}

// killLeftWarm kills the idle engines under dir and removes their directories.
func killLeftWarm(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		var rec warmRecord
		if b, err := os.ReadFile(filepath.Join(sub, warmRecordName)); err == nil && json.Unmarshal(b, &rec) == nil &&
			rec.PID > 0 && alive(rec.PID, rec.StartTime) && sameBinary(rec.PID, rec.Binary) {
			_ = syscall.Kill(-rec.PID, syscall.SIGKILL)
			p := newProc(rec.PID, rec.StartTime, time.Time{})
			p.waitGone(killWait)
		}
		_ = os.RemoveAll(sub)
	}
}

// want adds s to the shapes kept warm.
func (w *warmPool) want(s WarmShape) {
	w.mu.Lock()
	if !slices.Contains(w.wanted, s) {
		w.wanted = append(w.wanted, s)
	}
	w.mu.Unlock()
	w.signal()
}

func (w *warmPool) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns an idle engine of shape s that is still running, or nil.
func (w *warmPool) take(s WarmShape) *warmEngine {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.idle[s]) > 0 {
		e := w.idle[s][0]
		w.idle[s] = w.idle[s][1:]
		if !e.p.hasExited() {
			return e
		}
	}
	return nil
}

// missing returns a shape with fewer idle engines than wanted, whose last start did not fail recently.
func (w *warmPool) missing(now time.Time) (WarmShape, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.wanted {
		w.idle[s] = slices.DeleteFunc(w.idle[s], func(e *warmEngine) bool {
			if e.p.hasExited() {
				_ = os.RemoveAll(e.n.dir) // an idle engine that died keeps nothing
				return true
			}
			return false
		})
		if w.refused[s] == nil && len(w.idle[s]) < w.size && now.Sub(w.failed[s]) > warmRetryDelay {
			return s, true
		}
	}
	return WarmShape{}, false
}

// refill starts idle engines, one at a time, until every shape has its count; it waits warmRefillDelay
// after the last wake-up (a claim) before starting one.
func (d *Driver) refill(w *warmPool) {
	defer d.wg.Done()
	for {
		s, ok := w.missing(time.Now())
		if !ok {
			select {
			case <-w.wake:
			case <-d.done:
				return
			case <-time.After(warmRetryDelay):
			}
			continue
		}
		for quiet := false; !quiet; {
			select {
			case <-w.wake:
			case <-d.done:
				return
			case <-time.After(warmRefillDelay):
				quiet = true
			}
		}
		e, err := d.startWarm(s, w.dir)
		w.mu.Lock()
		switch {
		case errors.Is(err, errWarmUnsupported):
			w.refused[s] = err
			d.log.Info("engines of this kind start cold", "engine", s.Engine, "binary", s.Binary, "cluster", s.Cluster, "why", err)
		case err != nil:
			w.failed[s] = time.Now()
			d.log.Warn("starting a warm engine failed", "engine", s.Engine, "binary", s.Binary, "err", err)
		default:
			w.idle[s] = append(w.idle[s], e)
		}
		w.mu.Unlock()
	}
}

var errWarmUnsupported = errors.New("the engine cannot announce a client address apart from its cluster bus (cluster-announce-client-ipv4)")

// startWarm starts an idle engine of shape s at a free address of 127.2.0.0/16.
func (d *Driver) startWarm(s WarmShape, dir string) (*warmEngine, error) {
	id := randomID()
	sub := filepath.Join(dir, id)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeWarmAddress(s.Cluster)
	if err != nil {
		os.RemoveAll(sub)
		return nil, err
	}
	file := warmConfig(s, sub, addr)
	conf := filepath.Join(sub, configFileName(s.Engine))
	if err := atomicfile.WriteFile(conf, file, 0o600); err != nil {
		os.RemoveAll(sub)
		return nil, err
	}
	cmd, err := d.launch(sub, s.Binary, []string{conf})
	if err != nil {
		os.RemoveAll(sub)
		return nil, err
	}
	p := childProc(cmd)
	spec := driver.NodeSpec{ID: "warm-" + id, Engine: s.Engine, Binary: s.Binary, Port: warmPort, Bind: []string{addr}}
	n := &node{id: spec.ID, dir: sub, spec: spec, state: driver.StateStarting, p: p, startedAt: p.startedAt}
	go d.reap(n, p)
	e := &warmEngine{shape: s, addr: addr, n: n, p: p}
	rec, _ := json.Marshal(warmRecord{PID: p.pid, StartTime: p.startTime, Binary: s.Binary})
	err = atomicfile.WriteFile(filepath.Join(sub, warmRecordName), rec, 0o600)
	if err == nil {
		err = d.waitReady(context.Background(), p, spec)
	}
	if err == nil && s.Cluster {
		err = announcesClientAddress(spec)
	}
	if err != nil {
		d.dropWarm(e)
		return nil, fmt.Errorf("%w%s", err, logTail(sub))
	}
	return e, nil
}

// announcesClientAddress checks that the engine has cluster-announce-client-ipv4.
func announcesClientAddress(spec driver.NodeSpec) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, _ := engineAddr(spec, "")
	c, err := resp.Dial(ctx, n, resp.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Do(ctx, "CONFIG", "GET", "cluster-announce-client-ipv4")
	if err != nil {
		return err
	}
	if len(v.Elems) != 2 {
		return errWarmUnsupported
	}
	return nil
}

// dropWarm kills an engine of the pool and removes its directory.
func (d *Driver) dropWarm(e *warmEngine) {
	e.p.setNotify(false)
	e.p.killGroup()
	e.p.waitGone(killWait)
	_ = os.RemoveAll(e.n.dir)
}

// closeWarm kills every idle engine; Close calls it once the refill loop has stopped.
func (d *Driver) closeWarm() {
	w := d.warm
	if w == nil {
		return
	}
	w.mu.Lock()
	var all []*warmEngine
	for _, es := range w.idle {
		all = append(all, es...)
	}
	w.idle = map[WarmShape][]*warmEngine{}
	w.mu.Unlock()
	for _, e := range all {
		d.dropWarm(e)
	}
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freeWarmAddress picks an address of 127.2.0.0/16 where the warm port (and bus port) are free.
func freeWarmAddress(cluster bool) (string, error) {
	for range 64 {
		a := fmt.Sprintf("127.2.%d.%d", mrand.IntN(256), 1+mrand.IntN(254))
		if AddressFree(a, warmPort) && (!cluster || AddressFree(a, warmBusPort)) {
			return a, nil
		}
	}
	return "", errors.New("no free address in 127.2.0.0/16")
}

// warmConfig is the config file of an idle engine: only what cannot change at run time, and names relative
// to its working directory, which the claim renames.
func warmConfig(s WarmShape, dir, addr string) []byte {
	var b strings.Builder
	b.WriteString("# Generated by ecache: a warm engine, not yet a node's.\n")
	fmt.Fprintf(&b, "port %d\nbind %s\nprotected-mode no\ndaemonize no\n", warmPort, addr)
	fmt.Fprintf(&b, "dir %s\nlogfile %s\npidfile %s\n", quote(dir), logFileName, string(s.Engine)+".pid")
	b.WriteString("save \"\"\nappendonly no\n")
	if s.Cluster {
		fmt.Fprintf(&b, "cluster-enabled yes\ncluster-port %d\ncluster-announce-ip %s\n", warmBusPort, addr)
	}
	return []byte(b.String())
}

// warmShapeOf tells whether a warm engine can become the node of spec, and of which shape: a Valkey or
// Redis OSS node listening at one IPv4 loopback address, without TLS, password, seed or second port.
func warmShapeOf(spec driver.NodeSpec) (WarmShape, bool) {
	s := WarmShape{Engine: spec.Engine, Binary: spec.Binary, Cluster: spec.Config["cluster-enabled"] == "yes"}
	if !spec.Engine.RESP() || spec.TLS != nil || spec.Password != "" || spec.ACL != nil || spec.SeedRDB != "" || spec.PlainPort != 0 || len(spec.Bind) != 1 {
		return s, false
	}
	ip := net.ParseIP(spec.Bind[0])
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return s, false
	}
	if a := spec.Config["cluster-announce-ip"]; s.Cluster && a != "" && a != spec.Bind[0] {
		return s, false
	}
	return s, true
}

// claimWarm makes an idle engine the new node of spec, whose directory must not exist yet. claimed false:
// none could be, nothing was done, and the node is to start cold; true: the node is registered, running with
// st or, when the claimed engine failed at the end, started cold with the result err.
func (d *Driver) claimWarm(ctx context.Context, spec driver.NodeSpec) (st driver.NodeStatus, claimed bool, err error) {
	w := d.warm
	shape, ok := warmShapeOf(spec)
	if w == nil || !ok {
		return driver.NodeStatus{}, false, nil
	}
	w.want(shape)
	e := w.take(shape)
	if e == nil || !bindFree(spec, spec.Port) {
		if e != nil {
			d.dropWarm(e)
		}
		return driver.NodeStatus{}, false, nil
	}
	bus := ""
	if shape.Cluster {
		bus = e.addr
	}
	if err := reconfigure(ctx, e.n.spec, spec, bus); err != nil {
		d.log.Info("a warm engine did not take the node's settings; starting it cold", "node", spec.ID, "err", err)
		d.dropWarm(e)
		return driver.NodeStatus{}, false, nil
	}
	dir := filepath.Join(d.nodesDir, spec.ID)
	if err := os.Rename(e.n.dir, dir); err != nil {
		d.log.Warn("claiming a warm engine", "node", spec.ID, "err", err)
		d.dropWarm(e)
		return driver.NodeStatus{}, false, nil
	}
	_ = os.Remove(filepath.Join(dir, warmRecordName))
	n := e.n
	d.mu.Lock()
	n.id, n.dir, n.spec, n.bus, n.state = spec.ID, dir, spec, bus, driver.StateRunning
	d.nodes[spec.ID] = n
	d.mu.Unlock()
	_, file := commandLine(spec, dir, bus)
	err = atomicfile.WriteFile(filepath.Join(dir, configFileName(spec.Engine)), file, 0o600)
	if err == nil {
		err = d.persist(n)
	}
	if err == nil && !e.p.setNotify(true) {
		err = errors.New("exited while claimed")
	}
	if err == nil {
		err = d.waitReady(ctx, e.p, spec)
	}
	if err != nil {
		d.log.Warn("a claimed warm engine failed; starting the node cold", "node", spec.ID, "err", err)
		_ = d.stop(n, e.p)
		st, err := d.start(ctx, n, spec)
		return st, true, err
	}
	d.log.Info("claimed a warm engine", "node", spec.ID, "engine", spec.Engine, "pid", e.p.pid, "port", spec.Port, "bus", bus)
	return d.status(ctx, n, false), true, nil
}

// reconfigure turns the running engine of warm into the node of spec with CONFIG SET: the settings of spec
// that differ from the engine's (one call: the engine applies all or none), then its port and addresses.
func reconfigure(ctx context.Context, warm, spec driver.NodeSpec, bus string) error {
	n, err := engineAddr(warm, "")
	if err != nil {
		return err
	}
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	want := engineDirectives(spec, bus)
	delete(want, "cluster-enabled")
	delete(want, "cluster-port")
	if bus != "" {
		delete(want, "databases") // a cluster-mode engine has one, whatever the config says
	}
	want["maxmemory"] = strconv.FormatInt(spec.MaxMemoryBytes, 10)
	get := []string{"CONFIG", "GET"}
	get = append(get, slices.Sorted(maps.Keys(want))...)
	v, err := c.Do(ctx, get...)
	if err != nil {
		return fmt.Errorf("CONFIG GET: %w", err)
	}
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if k := v.Elems[i].Str; want[k] == v.Elems[i+1].Str {
			delete(want, k)
		}
	}
	if len(want) > 0 {
		set := []string{"CONFIG", "SET"}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			set = append(set, k, want[k])
		}
		if _, err := c.Do(ctx, set...); err != nil {
			return fmt.Errorf("CONFIG SET: %w", err)
		}
	}
	listen := slices.Clone(spec.Bind)
	if bus != "" {
		listen = append(listen, bus)
	}
	port := []string{"CONFIG", "SET", "port", strconv.Itoa(spec.Port), "bind", strings.Join(listen, " ")}
	if bus != "" {
		// The bus port stays; the port announced to the cluster follows the new one.
		port = append(port, "cluster-announce-port", strconv.Itoa(spec.Port))
	}
	if _, err := c.Do(ctx, port...); err != nil {
		return fmt.Errorf("CONFIG SET port: %w", err)
	}
	return nil
}

// engineDirectives are spec's directives as the engine takes them (values unquoted), with those of a bus
// address of its own (a claimed warm engine's).
func engineDirectives(spec driver.NodeSpec, bus string) map[string]string {
	out := make(map[string]string, len(spec.Config)+3)
	for k, v := range spec.Config {
		out[k] = directiveValue(v)
	}
	maps.Copy(out, busDirectives(spec, bus))
	return out
}

// busDirectives are the directives of a cluster-mode engine whose bus is at an address of its own (a claimed
// warm engine's): the bus port and the address it announces to the cluster, and the node's address for
// clients. None without bus.
func busDirectives(spec driver.NodeSpec, bus string) map[string]string {
	if bus == "" {
		return nil
	}
	client := directiveValue(spec.Config["cluster-announce-ip"])
	if client == "" {
		client = spec.Host()
	}
	return map[string]string{"cluster-port": strconv.Itoa(warmBusPort), "cluster-announce-ip": bus, "cluster-announce-client-ipv4": client}
}

// busLive is a live change of a node whose bus has an address of its own: the address it announces to
// clients is cluster-announce-client-ipv4 there.
func busLive(live [][2]string, bus string) [][2]string {
	if bus == "" {
		return live
	}
	out := slices.Clone(live)
	for i, kv := range out {
		if kv[0] == "cluster-announce-ip" {
			out[i][0] = "cluster-announce-client-ipv4"
		}
	}
	return out
}

// directiveValue is a config file value as CONFIG SET takes it: a double-quoted value unquoted.
func directiveValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
	}
	return v
}
