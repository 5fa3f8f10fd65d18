package txlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// eventually retries check for up to 10 s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddrs returns n distinct free loopback addresses: all are held until the last is found, so none is
// handed out twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// group is a log of n replicas on loopback.
type group struct {
	t        *testing.T
	dir      string
	peers    []Peer
	replicas []*Replica
	key      []byte // the data key every replica seals with (nil: plain)
}

func newGroup(t *testing.T, n int) *group { return newSealedGroup(t, n, nil) }

func newSealedGroup(t *testing.T, n int, key []byte) *group {
	t.Helper()
	g := &group{t: t, dir: t.TempDir(), key: key}
	addrs := freeAddrs(t, 2*n)
	for i := range n {
		g.peers = append(g.peers, Peer{ID: fmt.Sprintf("r%d", i), RaftAddr: addrs[2*i], APIAddr: addrs[2*i+1]})
	}
	g.replicas = make([]*Replica, n)
	for i := range n {
		g.start(i)
	}
	t.Cleanup(func() {
		for _, r := range g.replicas {
			if r != nil {
				r.Close()
			}
		}
	})
	return g
}

func (g *group) start(i int) {
	g.t.Helper()
	r, err := StartReplica(ReplicaConfig{Self: g.peers[i], Dir: filepath.Join(g.dir, g.peers[i].ID), Peers: g.peers, DataKey: g.key}, nil)
	if err != nil {
		g.t.Fatalf("start %s: %v", g.peers[i].ID, err)
	}
	g.replicas[i] = r
}

func (g *group) stop(i int) {
	g.t.Helper()
	if err := g.replicas[i].Close(); err != nil {
		g.t.Logf("close %s: %v", g.peers[i].ID, err)
	}
	g.replicas[i] = nil
}

func (g *group) apis() []string {
	var out []string
	for _, p := range g.peers {
		out = append(out, p.APIAddr)
	}
	return out
}

// leader is the index of the replica that leads, once one does.
func (g *group) leader() int {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, r := range g.replicas {
			if r != nil && r.raft.State().String() == "Leader" {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatal("no leader elected")
	return -1
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestCommittedWritesSurviveTheLeader: writes acknowledged by the log are on every replica, survive the
// loss of the leader (the others elect a new one and take more writes) and reach the old leader when it
// comes back.
func TestCommittedWritesSurviveTheLeader(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	var want []byte
	write := func(n int) {
		t.Helper()
		for range n {
			data := []byte(fmt.Sprintf("SET k%d v%d\n", len(want), len(want)))
			end, err := c.Append(ctx(t), 1, uint64(len(want)), data)
			if err != nil {
				t.Fatalf("append at %d: %v", len(want), err)
			}
			want = append(want, data...)
			if end != uint64(len(want)) {
				t.Fatalf("end after append = %d, want %d", end, len(want))
			}
		}
	}
	write(100)
	old := g.leader()
	g.stop(old)
	write(100) // the two others elect a leader and commit
	got, end, err := c.Read(ctx(t), 0, len(want)+100)
	if err != nil || !bytes.Equal(got, want) || end != uint64(len(want)) {
		t.Fatalf("read after the leader's loss: %d bytes (end %d), %v; want %d", len(got), end, err, len(want))
	}
	g.start(old)
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, end, err := g.replicas[old].fsm.read(0, len(want)+100)
		if err == nil && bytes.Equal(data, want) && end == uint64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old leader back holds %d bytes (end %d), %v; want %d", len(data), end, err, len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWritesAreFencedAndIdempotent: a retried write is committed once, a gap or an overlap is refused, and
// after a fence the old epoch's writer commits nothing.
func TestWritesAreFencedAndIdempotent(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx(t), 1, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if end, err := c.Append(ctx(t), 1, 0, []byte("abc")); err != nil || end != 3 {
		t.Errorf("retried write: end %d, %v; want 3 and no error", end, err)
	}
	if _, err := c.Append(ctx(t), 1, 5, []byte("x")); !errors.Is(err, ErrGap) {
		t.Errorf("write past the end: %v, want ErrGap", err)
	}
	if _, err := c.Append(ctx(t), 1, 2, []byte("xyz")); !errors.Is(err, ErrOverlap) {
		t.Errorf("write across the end: %v, want ErrOverlap", err)
	}
	if end, err := c.Fence(ctx(t), 2); err != nil || end != 3 {
		t.Fatalf("fence: end %d, %v", end, err)
	}
	if _, err := c.Append(ctx(t), 1, 3, []byte("late")); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("write of the fenced epoch: %v, want ErrStaleEpoch", err)
	}
	if end, err := c.Fence(ctx(t), 2); err != nil || end != 3 {
		t.Errorf("a retried fence: end %d, %v; want 3 and no error", end, err)
	}
	if _, err := c.Fence(ctx(t), 1); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("a fence with an older epoch: %v, want ErrStaleEpoch", err)
	}
	if _, err := c.Append(ctx(t), 2, 3, []byte("def")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.Read(ctx(t), 1, 100); err != nil || string(got) != "bcdef" {
		t.Errorf("read from 1 = %q, %v; want bcdef", got, err)
	}
}

// TestNoQuorumNoCommit: with two of three replicas down nothing is committed; the write is refused as
// unavailable within the caller's time.
func TestNoQuorumNoCommit(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	l := g.leader()
	for i := range g.replicas {
		if i != l {
			g.stop(i)
		}
	}
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Append(short, 1, 0, []byte("lost?")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("write without a quorum: %v, want ErrUnavailable", err)
	}
	if _, end, _ := g.replicas[l].fsm.read(0, 100); end != 0 {
		t.Errorf("the lone replica applied %d bytes without a quorum", end)
	}
}

// TestTailWaitsForTheLogToGrow: a tail read at the end of the log returns as soon as a write is committed,
// with the write's bytes; one that finds nothing within its wait returns empty.
func TestTailWaitsForTheLogToGrow(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx(t), 1, 0, []byte("head")); err != nil {
		t.Fatal(err)
	}
	if data, end, err := c.Tail(ctx(t), 4, 100, 50*time.Millisecond); err != nil || len(data) != 0 || end != 4 {
		t.Errorf("tail at the end = %q, %d, %v; want nothing, 4", data, end, err)
	}
	type tail struct {
		data []byte
		err  error
	}
	got := make(chan tail, 1)
	go func() {
		data, _, err := c.Tail(ctx(t), 4, 100, 10*time.Second)
		got <- tail{data, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("the tail read returned %q, %v before anything was written", r.data, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := c.Append(ctx(t), 1, 4, []byte("-tail")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || string(r.data) != "-tail" {
			t.Errorf("tail read = %q, %v; want -tail", r.data, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tail read did not return once the log grew")
	}
}

// TestSealedAtRest: with a data key, what the replicas keep on disk (Raft log, committed bytes, snapshots)
// holds no byte of what was written, and reads give it back; a replica that missed writes catches up from
// a snapshot sealed the same way.
func TestSealedAtRest(t *testing.T) {
	key := make([]byte, 32)
	key[0] = 7
	g := newSealedGroup(t, 3, key)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	g.stop(2)
	var want []byte
	for i := range 50 {
		rec := []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$9\r\nsecret-%02d\r\n$12\r\nhidden-value\r\n", i))
		if _, err := c.Append(ctx(t), 1, uint64(len(want)), rec); err != nil {
			t.Fatal(err)
		}
		want = append(want, rec...)
	}
	leader := g.leader()
	if err := g.replicas[leader].raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := g.replicas[leader].raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatalf("snapshot: %v", err)
	}
	got, _, err := c.Read(ctx(t), 0, 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(want))
	}
	g.start(2)
	eventually(t, "the stopped replica catches up", func() error {
		st, err := c.Status(ctx(t), g.peers[2].APIAddr)
		if err != nil || st.End != uint64(len(want)) {
			return fmt.Errorf("replica r2 at %d of %d: %v", st.End, len(want), err)
		}
		return nil
	})
	err = filepath.Walk(g.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(raw, []byte("secret-")) || bytes.Contains(raw, []byte("hidden-value")) {
			t.Errorf("%s holds written data in plain", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPipeline: appends sent without waiting are committed in order and answered in order; a retried one
// is a duplicate, a gap is refused; when the leader goes, the stream ends and one opened again reaches the
// new leader; a fenced epoch is refused.
func TestPipeline(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	p, err := c.OpenPipeline(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const n = 200
	for i := range n {
		if err := p.Send(1, uint64(i*10), []byte(fmt.Sprintf("record%03d", i)+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if end, err := p.Receive(); err != nil || end != uint64((i+1)*10) {
			t.Fatalf("answer %d: end %d, %v; want %d", i, end, err, (i+1)*10)
		}
	}
	if err := p.Send(1, 0, []byte("record000\n")); err != nil {
		t.Fatal(err)
	}
	if end, err := p.Receive(); err != nil || end != n*10 {
		t.Errorf("a retried append: end %d, %v", end, err)
	}
	if err := p.Send(1, n*10+5, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Receive(); !errors.Is(err, ErrGap) {
		t.Errorf("an append past the end: %v, want ErrGap", err)
	}
	got, _, err := c.Read(ctx(t), 0, 1<<20)
	if err != nil || len(got) != n*10 || !bytes.HasPrefix(got, []byte("record000\nrecord001\n")) {
		t.Fatalf("the log holds %d bytes (%v)", len(got), err)
	}

	g.stop(g.leader())
	if err := p.Send(1, n*10, []byte("after")); err == nil {
		if _, err = p.Receive(); err == nil {
			t.Error("the stream to a stopped leader still answers")
		}
	}
	p.Close()
	p, err = c.OpenPipeline(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var end uint64
	for {
		if err := p.Send(1, n*10, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if end, err = p.Receive(); !errors.Is(err, ErrNotLeader) {
			break
		}
		p.Close()
		if p, err = c.OpenPipeline(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err != nil || end != n*10+5 {
		t.Errorf("the append through the new leader: end %d, %v", end, err)
	}
	if _, err := c.Fence(ctx(t), 2); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(1, end, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Receive(); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("an append of a fenced epoch: %v, want ErrStaleEpoch", err)
	}
}

// TestStateRebuiltFromTheRaftLog: the committed bytes' file is written without fsync; a replica whose file
// is unreadable (a machine crash) sets it aside and rebuilds it from its Raft log.
func TestStateRebuiltFromTheRaftLog(t *testing.T) {
	g := newGroup(t, 3)
	c := NewClient(g.apis())
	if _, err := c.Fence(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(ctx(t), 1, 0, []byte("kept-through-a-crash")); err != nil {
		t.Fatal(err)
	}
	victim := (g.leader() + 1) % 3
	eventually(t, "the follower has the write", func() error {
		if st, err := c.Status(ctx(t), g.peers[victim].APIAddr); err != nil || st.End != 20 {
			return fmt.Errorf("end %d, %v", st.End, err)
		}
		return nil
	})
	g.stop(victim)
	if err := os.WriteFile(filepath.Join(g.dir, g.peers[victim].ID, "fsm.db"), []byte("torn by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start(victim)
	eventually(t, "the follower rebuilt its state", func() error {
		if st, err := c.Status(ctx(t), g.peers[victim].APIAddr); err != nil || st.End != 20 {
			return fmt.Errorf("end %d, %v", st.End, err)
		}
		return nil
	})
}
