// Package process implements driver.Driver by running engine processes on this host.
//
// Every node lives in its own directory, <dataDir>/nodes/<id>/:
//
//	node.json        spec, pid and the pid's start time (/proc/<pid>/stat field 22), written atomically
//	redis.conf       generated config (valkey.conf for valkey); memcached.args lists memcached's arguments,
//	                 txlog.args a log replica's (whose state is in txlog/)
//	engine.log       the engine's log, stdout and stderr
//	redis.pid        pidfile written by redis/valkey (valkey.pid for valkey)
//	...              the engine's own data files (dir points here)
//
// Engines run in their own session with stdin from /dev/null and output to engine.log, so they outlive
// ecache. A process this driver started is reaped by it; a process started by an earlier ecache is adopted
// by New when node.json's pid is alive with the recorded start time and binary, and watched through a pidfd
// (or by polling /proc when pidfds are unavailable). An exit that Remove or Restart did not ask for is
// delivered on Exits.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/driver"
)

const (
	recordFileName = "node.json"
	logFileName    = "engine.log"

	defaultReadyTimeout = 10 * time.Second
	defaultStopGrace    = 10 * time.Second
	killWait            = 5 * time.Second // how long to wait for a SIGKILLed process to disappear
	portWait            = 2 * time.Second // how long Remove waits for the port to be released
	pollInterval        = 100 * time.Millisecond
	probeTimeout        = 500 * time.Millisecond
	logTailBytes        = 4096
	logTailLines        = 15
)

var errClosed = errors.New("driver: closed")

// Driver runs engine nodes as processes on this host. It implements driver.Driver.
type Driver struct {
	nodesDir string
	log      *slog.Logger

	// Tunables, fixed after New (tests shorten or change them).
	readyTimeout time.Duration
	stopGrace    time.Duration
	usePidfd     bool // watch adopted processes through pidfds; otherwise poll /proc
	checkPort    bool // refuse to start on a port that is already taken

	mu     sync.Mutex // guards nodes, closed and every node's mutable fields
	nodes  map[string]*node
	closed bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
	exits  chan string

	lmu   sync.Mutex
	locks map[string]*keyLock // serialises Ensure/Restart/Remove per node

	warm *warmPool // idle engines new nodes can claim (KeepWarm); nil: none
}

var _ driver.Driver = (*Driver)(nil)

// node is the driver's view of one node directory. Its fields are guarded by Driver.mu.
type node struct {
	id        string
	dir       string
	spec      driver.NodeSpec // zero Engine when node.json was missing or unreadable
	state     driver.NodeState
	p         *proc // current or last process; nil when none was ever known
	startedAt time.Time
	bus       string // the address of a cluster bus of its own (a claimed warm engine's); empty: none
}

// record is the content of node.json.
type record struct {
	Spec      driver.NodeSpec `json:"spec"`
	PID       int             `json:"pid"`       // 0 when no process is running
	StartTime uint64          `json:"startTime"` // /proc/<pid>/stat field 22
	StartedAt time.Time       `json:"startedAt,omitzero"`
	// BusAddress is where the cluster bus of a node made of a warm engine listens, for life.
	BusAddress string `json:"busAddress,omitempty"`
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// New opens dataDir (created if missing) and adopts the engine processes an earlier ecache left running.
// A nil logger discards logs.
func New(dataDir string, logger *slog.Logger) (*Driver, error) {
	return open(dataDir, logger, true)
}

// open is New with the choice of watching adopted processes through pidfds or by polling /proc.
func open(dataDir string, logger *slog.Logger, usePidfd bool) (*Driver, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("driver: data dir: %w", err)
	}
	d := &Driver{
		nodesDir:     filepath.Join(abs, "nodes"),
		log:          logger,
		readyTimeout: defaultReadyTimeout,
		stopGrace:    defaultStopGrace,
		usePidfd:     usePidfd,
		checkPort:    true,
		nodes:        make(map[string]*node),
		done:         make(chan struct{}),
		exits:        make(chan string, 256),
		locks:        make(map[string]*keyLock),
	}
	if err := os.MkdirAll(d.nodesDir, 0o700); err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	if err := d.loadAll(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Driver) loadAll() error {
	entries, err := os.ReadDir(d.nodesDir)
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && ValidID(e.Name()) {
			d.load(e.Name())
		}
	}
	return nil
}

// load reads a node's directory, adopts its process when node.json names a live one, and registers the node.
func (d *Driver) load(id string) *node {
	n := &node{id: id, dir: filepath.Join(d.nodesDir, id), spec: driver.NodeSpec{ID: id}, state: driver.StateStopped}
	rec, err := readRecord(n.dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.log.Warn("node directory without node.json", "node", id)
	case err != nil:
		d.log.Warn("unreadable node.json", "node", id, "err", err)
	default:
		rec.Spec.ID = id
		n.spec = rec.Spec
		n.startedAt, n.bus = rec.StartedAt, rec.BusAddress
		if p := d.adopt(rec); p != nil {
			n.p = p
			n.state = driver.StateRunning
			d.log.Info("adopted engine process", "node", id, "pid", p.pid, "port", rec.Spec.Port)
		} else if rec.PID > 0 {
			d.log.Info("engine process is gone", "node", id, "pid", rec.PID)
		}
	}
	d.mu.Lock()
	d.nodes[id] = n
	if n.p != nil && !d.closed {
		d.wg.Add(1)
		go d.watchAdopted(n, n.p)
	}
	d.mu.Unlock()
	return n
}

// adopt returns the process node.json names when it is still the same process: alive, with the recorded
// start time, running the recorded binary.
func (d *Driver) adopt(rec record) *proc {
	if rec.PID <= 0 || !alive(rec.PID, rec.StartTime) || !sameBinary(rec.PID, rec.Spec.Binary) {
		return nil
	}
	p := newProc(rec.PID, rec.StartTime, rec.StartedAt)
	p.notify = true
	if d.usePidfd {
		fd, err := unix.PidfdOpen(rec.PID, 0)
		if err == nil {
			// The pid could have been reused between the check and the open: check again through the fd's process.
			if !alive(rec.PID, rec.StartTime) {
				unix.Close(fd)
				return nil
			}
			p.pidfd = fd
		} else {
			d.log.Debug("pidfd unavailable; polling /proc", "pid", rec.PID, "err", err)
		}
	}
	return p
}

func (d *Driver) watchAdopted(n *node, p *proc) {
	defer d.wg.Done()
	if !p.watchAdopted(d.done, pollInterval) {
		p.closeFD()
		return
	}
	if p.markExited() {
		d.report(n, p, "")
	}
}

// reap waits for a process this driver started.
func (d *Driver) reap(n *node, p *proc) {
	st, err := p.child.Wait()
	how := ""
	if err != nil {
		how = err.Error()
	} else {
		how = st.String()
	}
	p.setExitStatus(how)
	if p.markExited() {
		d.report(n, p, how)
	}
}

// report marks the node stopped and delivers its id on Exits.
func (d *Driver) report(n *node, p *proc, how string) {
	d.mu.Lock()
	id := n.id // a claimed warm engine's node is renamed
	if n.p == p && n.state == driver.StateRunning {
		n.state = driver.StateStopped
	}
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()
	d.log.Warn("engine process exited unexpectedly", "node", id, "pid", p.pid, "status", how)
	select {
	case d.exits <- id:
	case <-d.done:
	}
}

// Exits delivers the id of a node whose process ended without Remove or Restart asking it to.
// The channel is closed by Close.
func (d *Driver) Exits() <-chan string { return d.exits }

// Close stops watching processes and closes Exits. Engines keep running.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.done)
	d.mu.Unlock()
	d.wg.Wait()
	d.closeWarm()
	close(d.exits)
	return nil
}

func (d *Driver) lock(id string) (unlock func()) {
	d.lmu.Lock()
	l := d.locks[id]
	if l == nil {
		l = &keyLock{}
		d.locks[id] = l
	}
	l.refs++
	d.lmu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		d.lmu.Lock()
		if l.refs--; l.refs == 0 {
			delete(d.locks, id)
		}
		d.lmu.Unlock()
	}
}

// lookup returns the node, loading its directory when it appeared after New. Callers hold the node's lock.
func (d *Driver) lookup(id string) (*node, error) {
	d.mu.Lock()
	closed, n := d.closed, d.nodes[id]
	d.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if n != nil {
		return n, nil
	}
	if fi, err := os.Stat(filepath.Join(d.nodesDir, id)); err == nil && fi.IsDir() {
		return d.load(id), nil
	}
	return nil, nil
}

// Ensure makes the node run with spec; see driver.Driver.
func (d *Driver) Ensure(ctx context.Context, spec driver.NodeSpec) (driver.NodeStatus, error) {
	if err := validateSpec(spec); err != nil {
		return driver.NodeStatus{}, fmt.Errorf("driver: ensure %q: %w", spec.ID, err)
	}
	spec.Config = maps.Clone(spec.Config)
	unlock := d.lock(spec.ID)
	defer unlock()
	n, err := d.lookup(spec.ID)
	if err != nil {
		return driver.NodeStatus{}, err
	}
	if n == nil {
		if st, claimed, err := d.claimWarm(ctx, spec); claimed {
			return st, err
		}
		n = &node{id: spec.ID, dir: filepath.Join(d.nodesDir, spec.ID), spec: spec, state: driver.StateStopped}
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			return driver.NodeStatus{}, fmt.Errorf("driver: node %s: %w", spec.ID, err)
		}
		if err := writeRecord(n.dir, record{Spec: spec}); err != nil {
			return driver.NodeStatus{}, fmt.Errorf("driver: node %s: %w", spec.ID, err)
		}
		d.mu.Lock()
		d.nodes[spec.ID] = n
		d.mu.Unlock()
	}

	d.mu.Lock()
	p, old, state, bus := n.p, n.spec, n.state, n.bus
	d.mu.Unlock()
	if p != nil && !p.hasExited() && state == driver.StateRunning {
		restart, live, passwords := diffSpec(old, spec)
		acl := spec.Engine.RESP() && !old.ACL.Equal(spec.ACL)
		if !restart && (len(live) > 0 || passwords != nil || acl) {
			if err := configSet(ctx, old, spec, busLive(live, bus), passwords); err != nil {
				d.log.Warn("applying config change to running engine failed; restarting", "node", n.id, "err", err)
				restart = true
			}
		}
		if !restart {
			if !specEqual(old, spec) {
				d.mu.Lock()
				n.spec = spec
				d.mu.Unlock()
				if err := d.persist(n); err != nil {
					return driver.NodeStatus{}, err
				}
				if spec.Engine.RESP() {
					_, file := commandLine(spec, n.dir, bus)
					if err := atomicfile.WriteFile(filepath.Join(n.dir, configFileName(spec.Engine)), file, 0o600); err != nil {
						return driver.NodeStatus{}, fmt.Errorf("driver: node %s: %w", n.id, err)
					}
				}
			}
			if err := d.waitReady(ctx, p, spec); err != nil {
				return d.status(ctx, n, false), fmt.Errorf("driver: node %s (pid %d) does not answer on port %d: %w%s",
					n.id, p.pid, spec.Port, err, logTail(n.dir))
			}
			if spec.SeedRDB != "" {
				// Started from a seed by a driver that stopped before removing it.
				_ = os.Remove(filepath.Join(n.dir, "dump.rdb"))
			}
			return d.status(ctx, n, false), nil
		}
		d.log.Info("restarting engine for spec change", "node", n.id, "pid", p.pid)
		if err := d.stop(n, p); err != nil {
			return driver.NodeStatus{}, err
		}
	} else if spec.StayDown && p != nil {
		return d.status(ctx, n, false), fmt.Errorf("driver: node %s: %w", n.id, driver.ErrNodeDown)
	}
	return d.start(ctx, n, spec)
}

// Restart stops the node's process (if running) and starts it again with its current spec.
func (d *Driver) Restart(ctx context.Context, id string) (driver.NodeStatus, error) {
	if !ValidID(id) {
		return driver.NodeStatus{}, fmt.Errorf("%w: %q", driver.ErrUnknownNode, id)
	}
	unlock := d.lock(id)
	defer unlock()
	n, err := d.lookup(id)
	if err != nil {
		return driver.NodeStatus{}, err
	}
	if n == nil {
		return driver.NodeStatus{}, fmt.Errorf("%w: %s", driver.ErrUnknownNode, id)
	}
	d.mu.Lock()
	p, spec := n.p, n.spec
	d.mu.Unlock()
	if err := validateSpec(spec); err != nil {
		return driver.NodeStatus{}, fmt.Errorf("driver: restart %s: stored spec: %w", id, err)
	}
	if p != nil && !p.hasExited() {
		if err := d.stop(n, p); err != nil {
			return driver.NodeStatus{}, err
		}
	}
	return d.start(ctx, n, spec)
}

// Remove stops the node's process and deletes its directory. Removing an unknown node is not an error.
func (d *Driver) Remove(ctx context.Context, id string) error {
	if !ValidID(id) {
		return nil // no directory can exist for it
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := d.lock(id)
	defer unlock()
	n, err := d.lookup(id)
	if err != nil {
		return err
	}
	if n == nil {
		return nil
	}
	d.mu.Lock()
	p := n.p
	d.mu.Unlock()
	if p != nil && !p.hasExited() {
		if err := d.stop(n, p); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(n.dir); err != nil {
		return fmt.Errorf("driver: remove %s: %w", id, err)
	}
	d.mu.Lock()
	if d.nodes[id] == n {
		delete(d.nodes, id)
	}
	d.mu.Unlock()
	d.log.Info("removed node", "node", id)
	return nil
}

// Kill SIGKILLs the node's process group, through the same pid-reuse-safe handle as every other signal.
func (d *Driver) Kill(ctx context.Context, id string) error {
	d.mu.Lock()
	n := d.nodes[id]
	var p *proc
	if n != nil && n.state != driver.StateStopped {
		p = n.p
	}
	d.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%w: %s", driver.ErrUnknownNode, id)
	}
	if p != nil {
		p.killGroup()
	}
	return nil
}

// Status reports one node; healthy means it answered a probe just now.
func (d *Driver) Status(ctx context.Context, id string) (driver.NodeStatus, error) {
	d.mu.Lock()
	n := d.nodes[id]
	d.mu.Unlock()
	if n == nil {
		return driver.NodeStatus{}, fmt.Errorf("%w: %s", driver.ErrUnknownNode, id)
	}
	return d.status(ctx, n, true), nil
}

// Peek reports one node's process state without probing the engine.
func (d *Driver) Peek(ctx context.Context, id string) (driver.NodeStatus, error) {
	d.mu.Lock()
	n := d.nodes[id]
	d.mu.Unlock()
	if n == nil {
		return driver.NodeStatus{}, fmt.Errorf("%w: %s", driver.ErrUnknownNode, id)
	}
	return d.status(ctx, n, false), nil
}

// List reports every node with a directory, sorted by id.
func (d *Driver) List(ctx context.Context) ([]driver.NodeStatus, error) {
	d.mu.Lock()
	nodes := slices.Collect(maps.Values(d.nodes))
	d.mu.Unlock()
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].id < nodes[j].id })
	out := make([]driver.NodeStatus, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { out[i] = d.status(ctx, n, true) })
	}
	wg.Wait()
	return out, nil
}

// status snapshots n; with probe set, a running node is probed for Healthy, otherwise running means healthy
// (callers pass false right after a successful readiness check).
func (d *Driver) status(ctx context.Context, n *node, withProbe bool) driver.NodeStatus {
	d.mu.Lock()
	st := driver.NodeStatus{ID: n.id, Port: n.spec.Port, State: n.state, StartedAt: n.startedAt, Spec: n.spec}
	st.Spec.Config = maps.Clone(n.spec.Config)
	if n.p != nil && n.state != driver.StateStopped {
		st.PID = n.p.pid
	}
	d.mu.Unlock()
	if st.State == driver.StateRunning {
		st.Healthy = !withProbe || probe(ctx, st.Spec, probeTimeout) == nil
	}
	return st
}

// start launches the engine for spec and waits until it answers. On failure nothing is left running.
func (d *Driver) start(ctx context.Context, n *node, spec driver.NodeSpec) (driver.NodeStatus, error) {
	fail := func(err error) (driver.NodeStatus, error) {
		d.mu.Lock()
		n.spec, n.state = spec, driver.StateStopped
		d.mu.Unlock()
		if perr := d.persist(n); perr != nil {
			d.log.Warn("writing node.json failed", "node", n.id, "err", perr)
		}
		return d.status(ctx, n, false), fmt.Errorf("driver: start %s: %w", n.id, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if d.checkPort && (!bindFree(spec, spec.Port) || spec.PlainPort != 0 && !bindFree(spec, spec.PlainPort)) {
		return fail(fmt.Errorf("%w: port %d at %s", driver.ErrPortInUse, spec.Port, strings.Join(bindAddrs(spec), ", ")))
	}
	d.mu.Lock()
	bus := n.bus
	d.mu.Unlock()
	args, file := commandLine(spec, n.dir, bus)
	for _, e := range []driver.Engine{driver.EngineRedis, driver.EngineValkey, driver.EngineMemcached, driver.EngineTxlog} {
		if name := configFileName(e); e != spec.Engine && name != configFileName(spec.Engine) {
			_ = os.Remove(filepath.Join(n.dir, name))
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(n.dir, configFileName(spec.Engine)), file, 0o600); err != nil {
		return fail(err)
	}
	seed := filepath.Join(n.dir, "dump.rdb")
	if spec.SeedRDB != "" {
		if err := linkOrCopy(spec.SeedRDB, seed); err != nil {
			return fail(fmt.Errorf("seeding from %s: %w", spec.SeedRDB, err))
		}
		defer os.Remove(seed)
	}
	cmd, err := d.launch(n.dir, spec.Binary, args)
	if err != nil {
		return fail(err)
	}
	p := childProc(cmd)
	now := p.startedAt
	d.mu.Lock()
	n.spec, n.p, n.state, n.startedAt = spec, p, driver.StateStarting, now
	d.mu.Unlock()
	go d.reap(n, p)
	d.log.Info("started engine", "node", n.id, "engine", spec.Engine, "pid", p.pid, "port", spec.Port)

	// Record the pid before waiting, so that an ecache that dies meanwhile still adopts the process.
	err = d.persist(n)
	if err == nil {
		err = d.waitReady(ctx, p, spec)
	}
	if err == nil {
		d.mu.Lock()
		if p.setNotify(true) {
			n.state = driver.StateRunning
		} else {
			err = errors.New("exited right after answering")
		}
		d.mu.Unlock()
	}
	if err == nil && spec.Engine.RESP() {
		// The engine has loaded the dataset saved before a planned restart (or a seed): a later restart, a
		// reboot, must not bring it back.
		_ = os.Remove(seed)
	}
	if err != nil {
		if serr := d.stop(n, p); serr != nil {
			d.log.Error("stopping failed engine", "node", n.id, "pid", p.pid, "err", serr)
		}
		if p.child != nil {
			select { // let reap record how the engine ended
			case <-p.done:
			case <-time.After(time.Second):
			}
		}
		if how := p.exitStatus(); how != "" {
			err = fmt.Errorf("%w (%s)", err, how)
		}
		tail := logTail(n.dir)
		if strings.Contains(tail, "corrupted cluster config file") {
			err = fmt.Errorf("%w: %w", driver.ErrClusterConfigCorrupt, err)
		}
		err = fmt.Errorf("%s on port %d: %w%s", spec.Engine, spec.Port, err, tail)
		switch {
		case configRejected(spec.Engine, p.exitStatus(), tail):
			err = &driver.Refusal{Of: driver.ErrConfigRejected, Reason: refusal(tail), Err: err}
		case spec.SeedRDB != "":
			err = seedError(tail, err)
		}
		return fail(err)
	}
	return d.status(ctx, n, false), nil
}

// configRejected tells, from how an engine that did not come up ended and the end of its log, whether it
// refused its configuration: Valkey and Redis say FATAL CONFIG FILE ERROR and exit 1; memcached exits 64
// (EX_USAGE) or 1 on an option it refuses, and 71 (EX_OSERR) when the system is the cause (a port taken).
func configRejected(e driver.Engine, exit, logTail string) bool {
	if e.RESP() {
		return exit == "exit status 1" && strings.Contains(logTail, "FATAL CONFIG FILE ERROR")
	}
	return exit == "exit status 64" || exit == "exit status 1"
}

// refusal is the engine's reason, from the tail of its log, for refusing its configuration: its last two
// lines that say something (Valkey and Redis put the offending line and the rule after a banner).
func refusal(logTail string) string {
	var lines []string
	for l := range strings.Lines(logTail) {
		l = strings.TrimSpace(l)
		if l != "" && l != "engine.log:" && !strings.HasPrefix(l, "***") && !strings.HasPrefix(l, "Reading the configuration file") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(len(lines)-2, 0):], " ")
}

// seedWords are what Valkey and Redis log when they cannot load the RDB file they start with.
var seedWords = []string{"loading DB", "Wrong signature trying to load DB", "Can't handle RDB format version", "RDB ERROR DETECTED", "Bad file format reading"}

// seedRefusal is, from the end of an engine's log, its first line saying why it could not load its RDB
// file (without the pid, role and time in front), or "" when it says no such thing.
func seedRefusal(logTail string) string {
	for l := range strings.Lines(logTail) {
		if !slices.ContainsFunc(seedWords, func(w string) bool { return strings.Contains(l, w) }) {
			continue
		}
		if _, msg, ok := strings.Cut(l, " # "); ok {
			return strings.TrimSpace(msg)
		}
		return strings.TrimSpace(l)
	}
	return ""
}

// seedError is err, a failed start of an engine given an RDB file, as ErrSeedRejected when the end of the
// engine's log says it could not load the file.
func seedError(logTail string, err error) error {
	if reason := seedRefusal(logTail); reason != "" {
		return &driver.Refusal{Of: driver.ErrSeedRejected, Reason: reason, Err: err}
	}
	return err
}

// launch starts binary in its own session, with stdin from /dev/null and output appended to engine.log.
func (d *Driver) launch(dir, binary string, args []string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(filepath.Join(dir, logFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// childProc is the process launch started, started now.
func childProc(cmd *exec.Cmd) *proc {
	var startTime uint64
	if st, err := readStat(cmd.Process.Pid); err == nil {
		startTime = st.startTime
	}
	p := newProc(cmd.Process.Pid, startTime, time.Now())
	p.child = cmd.Process
	return p
}

// waitReady probes the engine every few milliseconds (5 at most: Valkey takes about 20 ms to listen) until it
// answers, it exits, ctx ends or readyTimeout passes without an answer (an engine still loading its dataset
// answers LOADING, which restarts the wait).
func (d *Driver) waitReady(ctx context.Context, p *proc, spec driver.NodeSpec) error {
	deadline := time.Now().Add(d.readyTimeout)
	interval := 2 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	var last error
	for {
		select {
		case <-p.done:
			return errors.New("engine exited during startup")
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if last = probe(ctx, spec, probeTimeout); last == nil {
			if p.hasExited() {
				return errors.New("engine exited during startup")
			}
			return nil
		}
		if errors.Is(last, errLoading) {
			// Loading its dataset (a restore, or the data kept over a restart) takes as long as the data is
			// large: the engine is alive and answers, so it gets the time it needs.
			deadline = time.Now().Add(d.readyTimeout)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: %w", d.readyTimeout, last)
		}
		t.Reset(interval)
		interval = min(interval*2, 5*time.Millisecond)
	}
}

// stop ends p on purpose: SIGTERM, then SIGKILL to its process group after the grace period.
// Memcached keeps nothing on disk and takes most of a second to shut down gracefully, so it gets
// SIGKILL at once: a stopped memcached node loses its items either way.
func (d *Driver) stop(n *node, p *proc) error {
	p.setNotify(false)
	sig := syscall.SIGTERM
	d.mu.Lock()
	if n.spec.Engine == driver.EngineMemcached {
		sig = syscall.SIGKILL
	}
	d.mu.Unlock()
	if err := p.signal(sig); err != nil {
		d.log.Warn("stop signal failed", "node", n.id, "pid", p.pid, "signal", sig, "err", err)
	}
	if !p.waitGone(d.stopGrace) {
		d.log.Warn("engine ignored SIGTERM; killing it", "node", n.id, "pid", p.pid, "grace", d.stopGrace)
		p.killGroup()
		_ = p.signal(syscall.SIGKILL)
		if !p.waitGone(killWait) {
			return fmt.Errorf("driver: node %s: pid %d did not exit after SIGKILL", n.id, p.pid)
		}
	}
	d.mu.Lock()
	if n.p == p {
		n.state = driver.StateStopped
	}
	port := n.spec.Port
	d.mu.Unlock()
	// A dead thread-group leader can show up as a zombie while its other threads still hold the
	// listening socket; wait for the port so that a start on the same port does not race it.
	if port > 0 && !waitPortFree(port, portWait) {
		d.log.Warn("port still in use after the engine stopped", "node", n.id, "port", port)
	}
	d.log.Info("stopped engine", "node", n.id, "pid", p.pid)
	return nil
}

// persist writes the node's current spec and process to node.json.
func (d *Driver) persist(n *node) error {
	d.mu.Lock()
	rec := record{Spec: n.spec, StartedAt: n.startedAt, BusAddress: n.bus}
	if n.p != nil && n.state != driver.StateStopped {
		rec.PID, rec.StartTime = n.p.pid, n.p.startTime
	}
	rec.Spec.Config = maps.Clone(n.spec.Config)
	d.mu.Unlock()
	if err := writeRecord(n.dir, rec); err != nil {
		return fmt.Errorf("driver: node %s: %w", n.id, err)
	}
	return nil
}

// diffSpec compares a running node's spec with the wanted one. restart means the process must be restarted;
// otherwise live lists the redis/valkey directives to change with CONFIG SET, and a non-nil passwords the
// default user's new passwords.
func diffSpec(old, want driver.NodeSpec) (restart bool, live [][2]string, passwords []string) {
	if old.Engine != want.Engine || old.Binary != want.Binary || old.Port != want.Port || !sameTLS(old.TLS, want.TLS) || !slices.Equal(old.Bind, want.Bind) || old.PlainPort != want.PlainPort {
		return true, nil, nil
	}
	if !want.Engine.RESP() {
		return old.MaxMemoryBytes != want.MaxMemoryBytes || old.Threads != want.Threads || !slices.Equal(old.Args, want.Args), nil, nil
	}
	for k := range old.Config {
		if _, ok := want.Config[k]; !ok {
			return true, nil, nil // no way to know the engine default to go back to
		}
	}
	if old.MaxMemoryBytes != want.MaxMemoryBytes {
		live = append(live, [2]string{"maxmemory", fmt.Sprint(want.MaxMemoryBytes)})
	}
	for _, k := range slices.Sorted(maps.Keys(want.Config)) {
		if v, ok := old.Config[k]; !ok || v != want.Config[k] {
			live = append(live, [2]string{k, want.Config[k]})
		}
	}
	if old.Password != want.Password || old.SecondPassword != want.SecondPassword {
		passwords = []string{}
		for _, p := range []string{want.Password, want.SecondPassword} {
			if p != "" {
				passwords = append(passwords, p)
			}
		}
	}
	return false, live, passwords
}

func sameTLS(a, b *driver.TLSFiles) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func specEqual(a, b driver.NodeSpec) bool {
	if len(a.Config) == 0 && len(b.Config) == 0 {
		a.Config, b.Config = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func waitPortFree(port int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !PortFree(port) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// logTail returns the last lines of the node's engine.log, formatted to end an error message.
func logTail(dir string) string {
	f, err := os.Open(filepath.Join(dir, logFileName))
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTailBytes {
		_, _ = f.Seek(fi.Size()-logTailBytes, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, logTailBytes))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	s := strings.TrimSpace(strings.Join(lines, "\n"))
	if s == "" {
		return ""
	}
	return "\nengine.log:\n" + s
}

func readRecord(dir string) (record, error) {
	var rec record
	b, err := os.ReadFile(filepath.Join(dir, recordFileName))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", recordFileName, err)
	}
	return rec, nil
}

func writeRecord(dir string, rec record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, recordFileName), append(b, '\n'), 0o600)
}

// linkOrCopy puts src at dst: a hard link when both are on one file system (the engine only reads the
// file, and writes its own files under other names that it renames into place), else a copy.
func linkOrCopy(src, dst string) error {
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	_, err := atomicfile.Copy(src, dst, 0o600)
	return err
}
