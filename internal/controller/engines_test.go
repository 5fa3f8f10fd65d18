package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
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
	// cluster is the cluster mode view: one state per shard.
	cluster []clustermode.ShardState
	// moving, when set, runs at the start of every MoveSlots; moved counts the slots moved.
	moving func(slots hashslot.Range)
	moved  int
	// listening are the addresses each engine listens on beyond its own, as Listen set them.
	listening map[string][]string
	// fetching, when set, is what Fetch does (a test holds snapshot copies there); unset, Fetch is not
	// scripted.
	fetching func(ctx context.Context, w io.Writer) (int64, error)
}

var _ driver.Engines = (*fakeEngines)(nil)

func newFakeEngines() *fakeEngines {
	return &fakeEngines{states: map[string]replication.State{}, hung: map[string]bool{}, listening: map[string][]string{}}
}

// Listen records the addresses an engine listens on besides its own; one another engine holds is refused,
// as the kernel refuses a second listener.
func (f *fakeEngines) Listen(_ context.Context, n resp.Node, addrs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.states[n.Addr]; !ok {
		return errFakeUnreachable
	}
	for other, held := range f.listening {
		for _, a := range addrs[1:] {
			if other != n.Addr && slices.Contains(held, a) {
				return fmt.Errorf("CONFIG SET bind: %s is held by %s", a, other)
			}
		}
	}
	if !slices.Equal(f.listening[n.Addr], addrs[1:]) {
		f.record("listen %s on %v", n.Addr, addrs[1:])
	}
	f.listening[n.Addr] = slices.Clone(addrs[1:])
	return nil
}

// holder is the engine that listens on addr besides its own address, if any.
func (f *fakeEngines) holder(addr string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, held := range f.listening {
		if slices.Contains(held, addr) {
			return n
		}
	}
	return ""
}

var errFakeUnreachable = fmt.Errorf("%w: fake engine not running", resp.ErrUnreachable)

func (f *fakeEngines) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// boot gives a node that just started an empty primary's state, as a real engine has after a start.
func (f *fakeEngines) boot(spec driver.NodeSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	addr := net.JoinHostPort(spec.Host(), strconv.Itoa(spec.Port))
	f.states[addr] = replication.State{Role: replication.RolePrimary, ReplID: "boot-" + spec.ID}
	delete(f.listening, addr) // a restarted engine listens where its configuration says
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
	delete(f.listening, addr) // its listeners went with it
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

// The cluster: shards as the engines would report them. Every call checks that the nodes it names are
// running (have a state), as the real commands would fail otherwise.

var errNotScripted = errors.New("fake engines: not scripted")

// follow records that replica follows primary, synced.
func (f *fakeEngines) follow(replica, primary string) {
	st := f.states[replica]
	st.Role, st.MasterAddr, st.LinkUp, st.SyncInProgress = replication.RoleReplica, primary, true, false
	f.states[replica] = st
}

func (f *fakeEngines) shardOf(addr string) int {
	return slices.IndexFunc(f.cluster, func(st clustermode.ShardState) bool { return st.PrimaryAddr == addr })
}

// ClusterConverged: the fake's cluster is settled whenever every node answers.
func (f *fakeEngines) ClusterConverged(_ context.Context, nodes []resp.Node) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range nodes {
		if _, ok := f.states[n.Addr]; !ok {
			return false, n.Addr + " does not answer", nil
		}
	}
	return true, "", nil
}

func (f *fakeEngines) ClusterInspect(_ context.Context, seed resp.Node) ([]clustermode.ShardState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.states[seed.Addr]; !ok {
		return nil, errFakeUnreachable
	}
	out := make([]clustermode.ShardState, len(f.cluster))
	for i, st := range f.cluster {
		out[i] = clustermode.ShardState{PrimaryAddr: st.PrimaryAddr, PrimaryID: st.PrimaryAddr,
			Replicas: slices.Sorted(slices.Values(st.Replicas)), Slots: hashslot.Normalize(slices.Clone(st.Slots))}
	}
	return out, nil
}

func (f *fakeEngines) ClusterCreate(_ context.Context, shards []clustermode.ShardSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("create %d shards", len(shards))
	f.cluster = nil
	for _, sh := range shards {
		st := clustermode.ShardState{PrimaryAddr: sh.Primary.Addr, Slots: slices.Clone(sh.Slots)}
		for _, r := range sh.Replicas {
			st.Replicas = append(st.Replicas, r.Addr)
			f.follow(r.Addr, sh.Primary.Addr)
		}
		f.cluster = append(f.cluster, st)
	}
	return nil
}

func (f *fakeEngines) ClusterAddShard(_ context.Context, _ resp.Node, sh clustermode.ShardSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("add shard %s", sh.Primary.Addr)
	st := clustermode.ShardState{PrimaryAddr: sh.Primary.Addr}
	for _, r := range sh.Replicas {
		st.Replicas = append(st.Replicas, r.Addr)
		f.follow(r.Addr, sh.Primary.Addr)
	}
	f.cluster = append(f.cluster, st)
	return nil
}

func (f *fakeEngines) ClusterAddReplica(_ context.Context, _, primary, replica resp.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.shardOf(primary.Addr)
	if i < 0 {
		return fmt.Errorf("%s is not a primary of the cluster", primary.Addr)
	}
	f.record("add replica %s to %s", replica.Addr, primary.Addr)
	if !slices.Contains(f.cluster[i].Replicas, replica.Addr) {
		f.cluster[i].Replicas = append(f.cluster[i].Replicas, replica.Addr)
	}
	f.follow(replica.Addr, primary.Addr)
	return nil
}

func (f *fakeEngines) ClusterRemoveShard(_ context.Context, _, primary resp.Node, _ []resp.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.shardOf(primary.Addr)
	if i < 0 {
		return nil
	}
	if len(f.cluster[i].Slots) > 0 {
		return fmt.Errorf("shard of %s still serves slots", primary.Addr)
	}
	f.record("remove shard %s", primary.Addr)
	f.cluster = slices.Delete(f.cluster, i, i+1)
	return nil
}

func (f *fakeEngines) ClusterFailover(_ context.Context, replica resp.Node, _ clustermode.FailoverMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, st := range f.cluster {
		if k := slices.Index(st.Replicas, replica.Addr); k >= 0 {
			f.record("cluster failover to %s", replica.Addr)
			old := st.PrimaryAddr
			st.Replicas[k] = old
			st.PrimaryAddr = replica.Addr
			f.cluster[i] = st
			ps := f.states[replica.Addr]
			ps.Role, ps.MasterAddr = replication.RolePrimary, ""
			f.states[replica.Addr] = ps
			if _, ok := f.states[old]; ok {
				f.follow(old, replica.Addr)
			}
			return nil
		}
	}
	return fmt.Errorf("%s is no replica of the cluster", replica.Addr)
}

func (f *fakeEngines) ClusterForget(context.Context, []resp.Node) ([]string, error) { return nil, nil }

// MoveSlots moves slots from one shard to another; moving runs the test's moving hook first.
func (f *fakeEngines) MoveSlots(_ context.Context, _, from, to resp.Node, slots hashslot.Range, _ func(int)) error {
	if f.moving != nil {
		f.moving(slots)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, k := f.shardOf(from.Addr), f.shardOf(to.Addr)
	if i < 0 || k < 0 {
		return fmt.Errorf("moving %s: %s or %s is not a primary", slots, from.Addr, to.Addr)
	}
	f.record("move %s", slots)
	var rest []int
	for _, r := range f.cluster[i].Slots {
		for s := r.Start; s <= r.End; s++ {
			if s < slots.Start || s > slots.End {
				rest = append(rest, s)
			}
		}
	}
	f.moved += slots.Len()
	f.cluster[i].Slots = hashslot.Ranges(rest)
	f.cluster[k].Slots = hashslot.Normalize(append(f.cluster[k].Slots, slots))
	return nil
}

func (f *fakeEngines) Fetch(ctx context.Context, _ resp.Node, w io.Writer) (int64, error) {
	f.mu.Lock()
	fetching := f.fetching
	f.mu.Unlock()
	if fetching == nil {
		return 0, errNotScripted
	}
	return fetching(ctx, w)
}
func (f *fakeEngines) CopyKeys(context.Context, string, string, resp.Node) (int64, error) {
	return 0, errNotScripted
}
