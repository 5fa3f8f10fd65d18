package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp/resptest"

	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// group starts a primary and two replicas attached to it and synced.
func group(t *testing.T, bin string, opts engineOpts) (p, r1, r2 *engine) {
	t.Helper()
	p, r1, r2 = startEngine(t, bin, opts), startEngine(t, bin, opts), startEngine(t, bin, opts)
	ctx := testCtx(t, 30*time.Second)
	for _, r := range []*engine{r1, r2} {
		if err := Attach(ctx, r.node, p.node); err != nil {
			t.Fatalf("Attach: %v", err)
		}
	}
	for _, r := range []*engine{r1, r2} {
		if err := WaitSynced(ctx, r.node, p.node); err != nil {
			t.Fatalf("WaitSynced: %v", err)
		}
	}
	return p, r1, r2
}

// writeKeys sets prefix:0 .. prefix:n-1 to v0 .. v(n-1).
func writeKeys(t *testing.T, c *redis.Client, prefix string, n int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	for start := 0; start < n; start += 1000 {
		pipe := c.Pipeline()
		for i := start; i < min(start+1000, n); i++ {
			pipe.Set(ctx, prefix+":"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("write %s keys: %v", prefix, err)
		}
	}
}

// checkKeys checks that prefix:i is vi for every i in ids.
func checkKeys(t *testing.T, e *engine, prefix string, ids []int) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	c := e.client()
	missing := 0
	for start := 0; start < len(ids); start += 1000 {
		batch := ids[start:min(start+1000, len(ids))]
		keys := make([]string, len(batch))
		for j, i := range batch {
			keys[j] = prefix + ":" + strconv.Itoa(i)
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			t.Fatalf("MGET on %s: %v", e.node.Addr, err)
		}
		for j, i := range batch {
			if got, want := vals[j], "v"+strconv.Itoa(i); got != want {
				if missing < 5 {
					t.Errorf("%s on %s = %v, want %q", keys[j], e.node.Addr, got, want)
				}
				missing++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d %s keys missing or wrong on %s", missing, len(ids), prefix, e.node.Addr)
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func inspectT(t *testing.T, e *engine) State {
	t.Helper()
	st, err := Inspect(testCtx(t, 5*time.Second), e.node)
	if err != nil {
		t.Fatalf("Inspect(%s): %v", e.node.Addr, err)
	}
	return st
}

// checkFollows checks that replica follows primary and is synced with it.
func checkFollows(t *testing.T, replica, primary *engine) {
	t.Helper()
	if err := WaitSynced(testCtx(t, 30*time.Second), replica.node, primary.node); err != nil {
		t.Errorf("WaitSynced(%s, %s): %v", replica.node.Addr, primary.node.Addr, err)
	}
	if st := inspectT(t, replica); st.Role != RoleReplica || st.MasterAddr != primary.node.Addr {
		t.Errorf("%s: role %q of %q, want %q of %q", replica.node.Addr, st.Role, st.MasterAddr, RoleReplica, primary.node.Addr)
	}
}

// TestAttachAndSync attaches two replicas, writes 10k keys on the primary, waits for both replicas to sync,
// reads every key back from each replica and checks that replicas refuse writes.
func TestAttachAndSync(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := group(t, bin, engineOpts{})
		const n = 10000
		writeKeys(t, p.client(), "k", n)
		ctx := testCtx(t, 30*time.Second)
		for _, r := range []*engine{r1, r2} {
			if err := WaitSynced(ctx, r.node, p.node); err != nil {
				t.Fatalf("WaitSynced: %v", err)
			}
			checkKeys(t, r, "k", seq(n))
			err := r.client().Set(ctx, "k:0", "other", 0).Err()
			if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
				t.Errorf("SET on replica %s: error %v, want READONLY", r.node.Addr, err)
			}
		}
		got, err := WaitForReplicas(ctx, p.node, 2, 5*time.Second)
		if err != nil || got != 2 {
			t.Errorf("WaitForReplicas(2) = %d, %v; want 2, nil", got, err)
		}
	})
}

// TestInspect checks roles, link status, offsets and connected replicas before and after attaching, that a
// second Attach keeps the link, and Detach.
func TestInspect(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := startEngine(t, bin, engineOpts{}), startEngine(t, bin, engineOpts{}), startEngine(t, bin, engineOpts{})
		ctx := testCtx(t, 30*time.Second)
		for _, e := range []*engine{p, r1, r2} {
			st := inspectT(t, e)
			if st.Role != RolePrimary || st.MasterAddr != "" || len(st.ConnectedReplicas) != 0 || st.ReplID == "" {
				t.Errorf("fresh %s: %+v, want a primary with no replicas and a replid", e.node.Addr, st)
			}
		}
		for _, r := range []*engine{r1, r2} {
			if err := Attach(ctx, r.node, p.node); err != nil {
				t.Fatalf("Attach: %v", err)
			}
		}
		writeKeys(t, p.client(), "k", 100)
		for _, r := range []*engine{r1, r2} {
			if err := WaitSynced(ctx, r.node, p.node); err != nil {
				t.Fatalf("WaitSynced: %v", err)
			}
		}

		// Writes made before a replica's first sync travel in its snapshot and do not move the replication
		// offset; a few after it do.
		writeKeys(t, p.client(), "after-sync", 10)

		// The primary learns replica offsets from their acknowledgements, sent once a second, and with diskless
		// sync only marks a replica online at its first one.
		ps := inspectT(t, p)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); ps = inspectT(t, p) {
			acked := 0
			for _, ri := range ps.ConnectedReplicas {
				if ri.Online() && ri.Offset == ps.Offset {
					acked++
				}
			}
			if acked == 2 && ps.Offset > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ps.Role != RolePrimary || ps.Offset <= 0 {
			t.Errorf("primary: role %q offset %d, want %q with a positive offset", ps.Role, ps.Offset, RolePrimary)
		}
		var addrs []string
		for _, ri := range ps.ConnectedReplicas {
			addrs = append(addrs, ri.Addr)
			if !ri.Online() || ri.Offset != ps.Offset || ri.Lag < 0 {
				t.Errorf("primary sees replica %+v, want online at offset %d", ri, ps.Offset)
			}
		}
		slices.Sort(addrs)
		want := []string{r1.node.Addr, r2.node.Addr}
		slices.Sort(want)
		if !slices.Equal(addrs, want) {
			t.Errorf("connected replicas %v, want %v", addrs, want)
		}
		for _, r := range []*engine{r1, r2} {
			st := inspectT(t, r)
			if st.Role != RoleReplica || st.MasterAddr != p.node.Addr || !st.LinkUp || st.SyncInProgress {
				t.Errorf("replica %s: %+v, want a replica of %s with link up and no sync in progress", r.node.Addr, st, p.node.Addr)
			}
			if st.ReplID != ps.ReplID || st.Offset < ps.Offset {
				t.Errorf("replica %s: replid %s offset %d, want replid %s offset >= %d", r.node.Addr, st.ReplID, st.Offset, ps.ReplID, ps.Offset)
			}
		}

		// Attach is idempotent: the replica keeps its link, no resync.
		if err := Attach(ctx, r1.node, p.node); err != nil {
			t.Fatalf("second Attach: %v", err)
		}
		if st := inspectT(t, r1); !st.LinkUp || st.SyncInProgress {
			t.Errorf("after second Attach: link up %t, sync in progress %t; want true, false", st.LinkUp, st.SyncInProgress)
		}

		if err := Detach(ctx, r2.node); err != nil {
			t.Fatalf("Detach: %v", err)
		}
		if st := inspectT(t, r2); st.Role != RolePrimary || st.MasterAddr != "" {
			t.Errorf("after Detach: role %q master %q, want %q and none", st.Role, st.MasterAddr, RolePrimary)
		}
		if err := Detach(ctx, r2.node); err != nil {
			t.Errorf("second Detach: %v", err)
		}
		checkKeys(t, r2, "k", seq(100))
	})
}

// TestPassword runs attach and sync with requirepass and masterauth on every node, and checks that a node is
// reachable but refuses Inspect without the password.
func TestPassword(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := group(t, bin, engineOpts{password: "s3cret-pass"})
		const n = 2000
		writeKeys(t, p.client(), "k", n)
		ctx := testCtx(t, 30*time.Second)
		for _, r := range []*engine{r1, r2} {
			if err := WaitSynced(ctx, r.node, p.node); err != nil {
				t.Fatalf("WaitSynced: %v", err)
			}
			checkKeys(t, r, "k", seq(n))
		}
		_, err := Inspect(ctx, resp.Node{Addr: p.node.Addr})
		var ee resp.Error
		if !errors.As(err, &ee) || !strings.HasPrefix(string(ee), "NOAUTH") || errors.Is(err, resp.ErrUnreachable) {
			t.Errorf("Inspect without password: %v, want a NOAUTH resp.Error", err)
		}
		_, err = Inspect(ctx, resp.Node{Addr: p.node.Addr, Password: "wrong"})
		if !errors.As(err, &ee) || errors.Is(err, resp.ErrUnreachable) {
			t.Errorf("Inspect with a wrong password: %v, want an resp.Error", err)
		}
	})
}

// TestTLS attaches, syncs and promotes over TLS with a throwaway CA.
func TestTLS(t *testing.T) {
	t.Parallel()
	files := newTLSFiles(t)
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := group(t, bin, engineOpts{tls: files, password: "tls-pass"})
		const n = 2000
		writeKeys(t, p.client(), "k", n)
		ctx := testCtx(t, 30*time.Second)
		for _, r := range []*engine{r1, r2} {
			if err := WaitSynced(ctx, r.node, p.node); err != nil {
				t.Fatalf("WaitSynced: %v", err)
			}
			checkKeys(t, r, "k", seq(n))
		}
		if err := Promote(ctx, r1.node, &p.node, []resp.Node{r2.node}); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if st := inspectT(t, r1); st.Role != RolePrimary {
			t.Errorf("promoted %s: role %q, want %q", r1.node.Addr, st.Role, RolePrimary)
		}
		writeKeys(t, r1.client(), "after", 100)
		checkFollows(t, p, r1)
		checkFollows(t, r2, r1)
		for _, e := range []*engine{p, r2} {
			checkKeys(t, e, "k", seq(n))
			checkKeys(t, e, "after", seq(100))
		}

		// A client without the CA cannot reach the engine.
		_, err := Inspect(ctx, resp.Node{Addr: p.node.Addr, Password: p.node.Password, TLS: &tls.Config{MinVersion: tls.VersionTLS12}})
		if !errors.Is(err, resp.ErrUnreachable) {
			t.Errorf("Inspect without the CA: %v, want resp.ErrUnreachable", err)
		}
	})
}

// TestWaitForReplicas checks that WaitForReplicas covers writes made by other clients: while a replica sleeps
// (DEBUG SLEEP) after a write, WAIT for it times out with 0 replicas; once it is awake, WAIT counts it.
func TestWaitForReplicas(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r := startEngine(t, bin, engineOpts{debug: true}), startEngine(t, bin, engineOpts{debug: true})
		ctx := testCtx(t, 30*time.Second)
		if err := Attach(ctx, r.node, p.node); err != nil {
			t.Fatalf("Attach: %v", err)
		}
		if err := WaitSynced(ctx, r.node, p.node); err != nil {
			t.Fatalf("WaitSynced: %v", err)
		}
		if got, err := WaitForReplicas(ctx, p.node, 1, 5*time.Second); err != nil || got != 1 {
			t.Fatalf("WaitForReplicas with the replica in sync = %d, %v; want 1", got, err)
		}

		// Send DEBUG SLEEP without waiting for its reply, then write on the primary from another client.
		sc, err := dial(ctx, r.node)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if err := sc.Send(ctx, "DEBUG", "SLEEP", "2"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		writeKeys(t, p.client(), "k", 10)
		if got, err := WaitForReplicas(ctx, p.node, 1, 300*time.Millisecond); err != nil || got != 0 {
			t.Errorf("WaitForReplicas with the replica asleep = %d, %v; want 0", got, err)
		}
		if got, err := WaitForReplicas(ctx, p.node, 1, 10*time.Second); err != nil || got != 1 {
			t.Errorf("WaitForReplicas after the replica woke = %d, %v; want 1", got, err)
		}
		if _, err := WaitForReplicas(ctx, p.node, 1, 0); err == nil {
			t.Error("WaitForReplicas with timeout 0: no error, want one")
		}
		if _, err := WaitForReplicas(ctx, r.node, 1, time.Second); err == nil {
			t.Error("WaitForReplicas on a replica: no error, want one")
		}
	})
}

// writer writes w:1, w:2, ... to whichever node is primary, retrying against the node that Inspect reports as
// primary after every error, and records which writes were acknowledged.
type writer struct {
	nodes   []*engine
	clients map[string]*redis.Client

	mu    sync.Mutex
	acked []int          // ids of acknowledged writes
	on    map[string]int // acknowledged writes per node address
	errs  int
}

func newWriter(nodes ...*engine) *writer {
	w := &writer{nodes: nodes, clients: map[string]*redis.Client{}, on: map[string]int{}}
	for _, e := range nodes {
		w.clients[e.node.Addr] = e.client()
	}
	return w
}

func (w *writer) run(ctx context.Context, stop <-chan struct{}) {
	target := w.nodes[0].node.Addr
	for i := 1; ; i++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		err := w.clients[target].Set(ctx, "w:"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0).Err()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, i)
			w.on[target]++
		} else {
			w.errs++
		}
		w.mu.Unlock()
		if err != nil {
			target = w.findPrimary(ctx, target)
		}
	}
}

// findPrimary returns a node that reports itself primary, preferring one other than current.
func (w *writer) findPrimary(ctx context.Context, current string) string {
	for ctx.Err() == nil {
		var primaries []string
		for _, e := range w.nodes {
			if st, err := Inspect(ctx, e.node); err == nil && st.Role == RolePrimary {
				primaries = append(primaries, e.node.Addr)
			}
		}
		for _, a := range primaries {
			if a != current {
				return a
			}
		}
		if len(primaries) > 0 {
			return primaries[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	return current
}

func (w *writer) snapshot() (acked []int, on map[string]int, errs int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked), maps.Clone(w.on), w.errs
}

// TestPlannedPromotion promotes a replica while a writer keeps writing to the live primary: no acknowledged
// write is missing on the new primary, and the old primary is now its synced replica, as is the other replica.
func TestPlannedPromotion(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := group(t, bin, engineOpts{})
		ctx := testCtx(t, 60*time.Second)
		w := newWriter(p, r1, r2)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.run(ctx, stop)
		}()
		for {
			if acked, _, _ := w.snapshot(); len(acked) >= 500 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := Promote(pctx, r1.node, &p.node, []resp.Node{r2.node})
		cancel()
		if err != nil {
			close(stop)
			<-done
			t.Fatalf("Promote: %v", err)
		}
		// Let the writer find the new primary and write to it for a while.
		for {
			if _, on, _ := w.snapshot(); on[r1.node.Addr] >= 500 {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("writer never wrote to the new primary")
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		<-done
		acked, on, errs := w.snapshot()
		t.Logf("%d writes acknowledged (%v), %d failed", len(acked), on, errs)

		if st := inspectT(t, r1); st.Role != RolePrimary {
			t.Fatalf("new primary %s: role %q, want %q", r1.node.Addr, st.Role, RolePrimary)
		}
		checkKeys(t, r1, "w", acked)
		checkFollows(t, p, r1)
		checkFollows(t, r2, r1)
		checkKeys(t, p, "w", acked)
		checkKeys(t, r2, "w", acked)
		if st := inspectT(t, r1); len(st.ConnectedReplicas) != 2 {
			t.Errorf("new primary has %d connected replicas, want 2", len(st.ConnectedReplicas))
		}
	})
}

// TestPromoteAfterPrimaryKilled kills the primary with SIGKILL after one replica fell behind: MostUpToDate picks
// the other replica, Promote makes it primary, the lagging one follows it, and every write acknowledged by
// WAIT is there.
func TestPromoteAfterPrimaryKilled(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, bin string) {
		p, r1, r2 := group(t, bin, engineOpts{})
		ctx := testCtx(t, 60*time.Second)
		pc := p.client()

		// Acknowledged by both replicas.
		const n = 3000
		for start := 0; start < n; start += 500 {
			pipe := pc.Pipeline()
			for i := start; i < start+500; i++ {
				pipe.Set(ctx, "a:"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
			}
			wait := pipe.Do(ctx, "WAIT", 2, 5000)
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("write a keys: %v", err)
			}
			if got, err := wait.Int(); got != 2 || err != nil {
				t.Fatalf("WAIT 2 = %d, %v; want 2", got, err)
			}
		}
		// r2 falls behind: it stops following before the last writes, which only r1 acknowledges.
		if err := Detach(ctx, r2.node); err != nil {
			t.Fatalf("Detach: %v", err)
		}
		for start := 0; start < n; start += 500 {
			pipe := pc.Pipeline()
			for i := start; i < start+500; i++ {
				pipe.Set(ctx, "b:"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
			}
			wait := pipe.Do(ctx, "WAIT", 1, 5000)
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("write b keys: %v", err)
			}
			if got, err := wait.Int(); got != 1 || err != nil {
				t.Fatalf("WAIT 1 = %d, %v; want 1", got, err)
			}
		}
		p.kill()

		dead := resp.Node{Addr: p.node.Addr}
		idx, st, err := MostUpToDate(ctx, []resp.Node{dead, r2.node, r1.node})
		if err != nil {
			t.Fatalf("MostUpToDate: %v", err)
		}
		if idx != 2 {
			t.Fatalf("MostUpToDate = %d (offset %d), want 2 (%s)", idx, st.Offset, r1.node.Addr)
		}
		if lag := inspectT(t, r2); lag.Offset >= st.Offset {
			t.Errorf("lagging replica offset %d, want below %d", lag.Offset, st.Offset)
		}

		if err := Promote(ctx, r1.node, &p.node, []resp.Node{r2.node}); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if st := inspectT(t, r1); st.Role != RolePrimary {
			t.Errorf("promoted %s: role %q, want %q", r1.node.Addr, st.Role, RolePrimary)
		}
		checkFollows(t, r2, r1)
		for _, e := range []*engine{r1, r2} {
			checkKeys(t, e, "a", seq(n))
			checkKeys(t, e, "b", seq(n))
		}
		writeKeys(t, r1.client(), "c", 10)
		checkFollows(t, r2, r1)
		checkKeys(t, r2, "c", seq(10))
	})
}

// TestPromoteIdempotent runs a planned Promote twice: the second run finds the work done and changes nothing.
func TestPromoteIdempotent(t *testing.T) {
	t.Parallel()
	bin := engines(t)[0]
	p, r1, r2 := group(t, bin, engineOpts{})
	ctx := testCtx(t, 30*time.Second)
	writeKeys(t, p.client(), "k", 100)
	for i := range 2 {
		if err := Promote(ctx, r1.node, &p.node, []resp.Node{r2.node}); err != nil {
			t.Fatalf("Promote #%d: %v", i+1, err)
		}
	}
	if st := inspectT(t, r1); st.Role != RolePrimary {
		t.Errorf("promoted %s: role %q, want %q", r1.node.Addr, st.Role, RolePrimary)
	}
	checkFollows(t, p, r1)
	checkFollows(t, r2, r1)
	checkKeys(t, p, "k", seq(100))
	// The old primary was unpaused: as a replica it answers reads at once and refuses writes.
	err := p.client().Set(ctx, "x", "y", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("SET on the old primary: %v, want READONLY", err)
	}
}

// TestMostUpToDateNoneReachable checks that MostUpToDate fails when no candidate answers.
func TestMostUpToDateNoneReachable(t *testing.T) {
	t.Parallel()
	addr := resptest.DeadAddr(t)
	for _, tc := range []struct {
		name       string
		candidates []resp.Node
	}{
		{"empty", nil},
		{"dead", []resp.Node{{Addr: addr}, {Addr: addr}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, _, err := MostUpToDate(testCtx(t, 5*time.Second), tc.candidates)
			if err == nil || idx != -1 {
				t.Errorf("MostUpToDate = %d, %v; want -1 and an error", idx, err)
			}
		})
	}
}

// TestAhead checks the ranking of promotion candidates.
func TestAhead(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b State
		want bool
	}{
		{"higher offset", State{Offset: 20}, State{Offset: 10}, true},
		{"lower offset", State{Offset: 10}, State{Offset: 20}, false},
		{"tie", State{Offset: 10}, State{Offset: 10}, false},
		{"b syncing", State{Offset: 10}, State{Offset: 20, SyncInProgress: true}, true},
		{"a syncing", State{Offset: 20, SyncInProgress: true}, State{Offset: 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ahead(tc.a, tc.b); got != tc.want {
				t.Errorf("ahead(%+v, %+v) = %t, want %t", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func ExampleMostUpToDate() {
	ctx := context.Background()
	replicas := []resp.Node{{Addr: "127.0.0.1:6380"}, {Addr: "127.0.0.1:6381"}}
	i, _, err := MostUpToDate(ctx, replicas)
	if err != nil {
		fmt.Println("no replica to promote:", err)
		return
	}
	others := slices.Delete(slices.Clone(replicas), i, i+1)
	if err := Promote(ctx, replicas[i], nil, others); err != nil {
		fmt.Println("promote:", err)
	}
}
