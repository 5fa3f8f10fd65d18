package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resp"
)

// fakeEngines plays the engines of replication groups without processes: each address has a replication
// state the test scripts (role, primary, offset), Attach and Promote change them as the real commands would,
// and every call is recorded in order. An address with no state is unreachable.
type fakeEngines struct {
	mu     sync.Mutex
	states map[string]replication.State
	hung   map[string]bool // addresses whose engine accepts connections but never answers
	calls  []string
	// promoting, when set, runs inside Promote before it changes any state (a test kills a replica there).
	promoting func(candidate string)
}

var _ driver.Engines = (*fakeEngines)(nil)

func newFakeEngines() *fakeEngines {
	return &fakeEngines{states: map[string]replication.State{}, hung: map[string]bool{}}
}

var errFakeUnreachable = fmt.Errorf("%w: fake engine not running", resp.ErrUnreachable)

func (f *fakeEngines) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// boot gives a node that just started an empty primary's state, as a real engine has after a start.
func (f *fakeEngines) boot(spec driver.NodeSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(spec.Port))
	f.states[addr] = replication.State{Role: replication.RolePrimary, ReplID: "boot-" + spec.ID}
	f.record("boot %s", addr)
}

// set scripts the state of the engine at addr.
func (f *fakeEngines) set(addr string, st replication.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[addr] = st
}

// remove makes the engine at addr unreachable (its process died).
func (f *fakeEngines) remove(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.states, addr)
}

func (f *fakeEngines) state(addr string) (replication.State, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[addr]
	return st, ok
}

// callLog returns the calls made so far.
func (f *fakeEngines) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeEngines) Ping(_ context.Context, n resp.Node, _ time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.hung[n.Addr]
}

func (f *fakeEngines) Inspect(_ context.Context, n resp.Node) (replication.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[n.Addr]
	if !ok || f.hung[n.Addr] {
		return replication.State{}, errFakeUnreachable
	}
	return st, nil
}

func (f *fakeEngines) Attach(_ context.Context, replica, primary resp.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[replica.Addr]
	if !ok {
		return errFakeUnreachable
	}
	f.record("attach %s to %s", replica.Addr, primary.Addr)
	p := f.states[primary.Addr]
	st.Role, st.MasterAddr, st.LinkUp, st.SyncInProgress, st.ReplID = replication.RoleReplica, primary.Addr, true, false, p.ReplID
	st.Offset = max(st.Offset, p.Offset)
	f.states[replica.Addr] = st
	return nil
}

func (f *fakeEngines) MostUpToDate(ctx context.Context, candidates []resp.Node) (int, replication.State, error) {
	best, bestState := -1, replication.State{}
	for i, n := range candidates {
		st, err := f.Inspect(ctx, n)
		if err == nil && (best < 0 || st.Offset > bestState.Offset) {
			best, bestState = i, st
		}
	}
	if best < 0 {
		return -1, replication.State{}, errors.New("most up to date: no reachable candidate")
	}
	return best, bestState, nil
}

func (f *fakeEngines) Promote(_ context.Context, candidate resp.Node, oldPrimary *resp.Node, others []resp.Node) error {
	if f.promoting != nil {
		f.promoting(candidate.Addr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[candidate.Addr]
	if !ok {
		return fmt.Errorf("promote %s: %w", candidate.Addr, errFakeUnreachable)
	}
	f.record("promote %s", candidate.Addr)
	st.Role, st.MasterAddr = replication.RolePrimary, ""
	f.states[candidate.Addr] = st
	all := others
	if oldPrimary != nil {
		all = append(all, *oldPrimary)
	}
	for _, o := range all {
		if ost, ok := f.states[o.Addr]; ok && o.Addr != candidate.Addr {
			ost.Role, ost.MasterAddr, ost.LinkUp = replication.RoleReplica, candidate.Addr, true
			f.states[o.Addr] = ost
		}
	}
	return nil
}

func (f *fakeEngines) Databases(context.Context, resp.Node) ([]int, error) { return nil, nil }

func (f *fakeEngines) PauseAndSave(context.Context, resp.Node, time.Duration) error { return nil }

var errNotScripted = errors.New("fake engines: cluster mode is not scripted")

func (f *fakeEngines) ClusterInspect(context.Context, resp.Node) ([]clustermode.ShardState, error) {
	return nil, errNotScripted
}
func (f *fakeEngines) ClusterCreate(context.Context, []clustermode.ShardSpec) error {
	return errNotScripted
}
func (f *fakeEngines) ClusterAddShard(context.Context, resp.Node, clustermode.ShardSpec) error {
	return errNotScripted
}
func (f *fakeEngines) ClusterAddReplica(context.Context, resp.Node, resp.Node, resp.Node) error {
	return errNotScripted
}
func (f *fakeEngines) ClusterRemoveShard(context.Context, resp.Node, resp.Node, []resp.Node) error {
	return errNotScripted
}
func (f *fakeEngines) ClusterFailover(context.Context, resp.Node, clustermode.FailoverMode) error {
	return errNotScripted
}
func (f *fakeEngines) ClusterForget(context.Context, []resp.Node) ([]string, error) {
	return nil, errNotScripted
}
func (f *fakeEngines) MoveSlots(context.Context, resp.Node, resp.Node, resp.Node, hashslot.Range, func(int)) error {
	return errNotScripted
}
func (f *fakeEngines) Fetch(context.Context, resp.Node, io.Writer) (int64, error) {
	return 0, errNotScripted
}
func (f *fakeEngines) CopyKeys(context.Context, string, string, resp.Node) (int64, error) {
	return 0, errNotScripted
}
