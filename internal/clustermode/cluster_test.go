package clustermode

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resp"
)

// assignment turns Inspect's answer into the [][]hashslot.Range the plan helpers take, with nodes per index.
func assignment(states []ShardState) [][]hashslot.Range {
	out := make([][]hashslot.Range, len(states))
	for i, s := range states {
		out[i] = s.Slots
	}
	return out
}

func inspect(ctx context.Context, t *testing.T, n resp.Node) []ShardState {
	t.Helper()
	states, err := Inspect(ctx, n)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return states
}

// infoOf returns INFO section fields of a node.
func infoOf(ctx context.Context, t *testing.T, n resp.Node, section string) map[string]string {
	t.Helper()
	c := dial(n)
	defer c.Close()
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		t.Fatalf("INFO %s on %s: %v", section, n.Addr, err)
	}
	return infoFields(text)
}

func clusterInfoOf(ctx context.Context, t *testing.T, n resp.Node) map[string]string {
	t.Helper()
	c := dial(n)
	defer c.Close()
	info, err := clusterInfo(ctx, c)
	if err != nil {
		t.Fatalf("CLUSTER INFO on %s: %v", n.Addr, err)
	}
	return info
}

func viewOf(ctx context.Context, t *testing.T, n resp.Node) clusterView {
	t.Helper()
	c := dial(n)
	defer c.Close()
	v, err := nodesOf(ctx, c)
	if err != nil {
		t.Fatalf("CLUSTER NODES on %s: %v", n.Addr, err)
	}
	return v
}

// moveAll runs a plan with MoveSlots and returns the slots moved and the time taken.
func moveAll(ctx context.Context, t *testing.T, seed resp.Node, states []ShardState, plan []hashslot.Move, password string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	total := 0
	for _, m := range plan {
		from := resp.Node{Addr: states[m.From].PrimaryAddr, Password: password}
		to := resp.Node{Addr: states[m.To].PrimaryAddr, Password: password}
		calls, last := 0, 0
		moveStart := time.Now()
		err := MoveSlots(ctx, seed, from, to, m.Slots, func(done int) { calls++; last = done })
		if err != nil {
			t.Fatalf("MoveSlots %v: %v", m, err)
		}
		if calls != m.Slots.Len() || last != m.Slots.Len() {
			t.Errorf("MoveSlots %v: progress called %d times, last %d; want %d", m, calls, last, m.Slots.Len())
		}
		t.Logf("move %v took %v", m, time.Since(moveStart).Round(time.Millisecond))
		total += m.Slots.Len()
	}
	return total, time.Since(start)
}

func TestCreate(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 3, 1, 0, "")
		ctx := testCtx(t, time.Minute)

		for _, addr := range c.addrs() {
			if got := clusterInfoOf(ctx, t, resp.Node{Addr: addr})["cluster_state"]; got != "ok" {
				t.Errorf("%s: cluster_state = %q, want ok", addr, got)
			}
		}
		states := inspect(ctx, t, c.seed())
		if len(states) != 3 {
			t.Fatalf("Inspect: %d shards, want 3: %+v", len(states), states)
		}
		for i, st := range states {
			spec := c.specs[i]
			id, err := NodeID(ctx, spec.Primary)
			if err != nil {
				t.Fatalf("NodeID: %v", err)
			}
			if st.PrimaryAddr != spec.Primary.Addr || st.PrimaryID != id {
				t.Errorf("shard %d primary = %s %s, want %s %s", i, st.PrimaryAddr, st.PrimaryID, spec.Primary.Addr, id)
			}
			if !reflect.DeepEqual(st.Slots, spec.Slots) {
				t.Errorf("shard %d slots = %v, want %v", i, st.Slots, spec.Slots)
			}
			if want := []string{spec.Replicas[0].Addr}; !reflect.DeepEqual(st.Replicas, want) {
				t.Errorf("shard %d replicas = %v, want %v", i, st.Replicas, want)
			}
			// Every replica reports its primary.
			for _, r := range spec.Replicas {
				info := infoOf(ctx, t, r, "replication")
				host, port, _ := net.SplitHostPort(spec.Primary.Addr)
				if info["role"] != "slave" || info["master_host"] != host || info["master_port"] != port || info["master_link_status"] != "up" {
					t.Errorf("replica %s: role=%s master=%s:%s link=%s, want slave of %s with link up",
						r.Addr, info["role"], info["master_host"], info["master_port"], info["master_link_status"], spec.Primary.Addr)
				}
			}
		}

		cc := clusterClient(t, c.addrs(), "")
		start := time.Now()
		keys := writeKeys(ctx, t, cc, "create", 20000)
		checkKeys(ctx, t, cc, keys)
		t.Logf("wrote and read %d keys through the cluster client in %v", len(keys), time.Since(start).Round(time.Millisecond))

		// Running Create again on a formed cluster changes nothing.
		if err := Create(ctx, c.specs); err != nil {
			t.Errorf("Create again: %v", err)
		}
		if got := inspect(ctx, t, c.seed()); !reflect.DeepEqual(got, states) {
			t.Errorf("after second Create: %+v, want %+v", got, states)
		}
	})
}

func TestReshardOnline(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 3, 1, 2, "")
		ctx := testCtx(t, 2*time.Minute)
		cc := clusterClient(t, c.addrs(), "")
		before := writeKeys(ctx, t, cc, "before", 20000)
		l := startLoad(t, cc, "during", 4)

		newShard := ShardSpec{Primary: c.spare[0].node, Replicas: []resp.Node{c.spare[1].node}}
		if err := AddShard(ctx, c.seed(), newShard); err != nil {
			t.Fatalf("AddShard: %v", err)
		}
		states := inspect(ctx, t, c.seed())
		if len(states) != 4 || states[3].PrimaryAddr != newShard.Primary.Addr || len(states[3].Slots) != 0 {
			t.Fatalf("after AddShard: %+v, want the new empty shard last", states)
		}
		if want := []string{newShard.Replicas[0].Addr}; !reflect.DeepEqual(states[3].Replicas, want) {
			t.Errorf("new shard replicas = %v, want %v", states[3].Replicas, want)
		}
		target := hashslot.Balance(assignment(states), 4)
		plan := hashslot.PlanMoves(assignment(states), target)
		t.Logf("plan: %v", plan)
		moved, took := moveAll(ctx, t, c.seed(), states, plan, "")
		if moved != 4096 {
			t.Errorf("moved %d slots, want 4096", moved)
		}
		l.stop()
		l.report(t)
		keysOnNew := dbsize(ctx, t, newShard.Primary)
		t.Logf("%s: moved %d slots (%d keys) in %v: %.0f slots/s, %.0f keys/s, under load",
			e.name, moved, keysOnNew, took.Round(time.Millisecond), float64(moved)/took.Seconds(), float64(keysOnNew)/took.Seconds())

		checkKeys(ctx, t, cc, before)
		checkKeys(ctx, t, cc, l.keys())

		got := inspect(ctx, t, c.seed())
		if len(got) != 4 {
			t.Fatalf("Inspect: %d shards, want 4: %+v", len(got), got)
		}
		checkShards(t, got, states, target)
		// Every node agrees and reports ok.
		for _, addr := range append(c.addrs(), newShard.Primary.Addr, newShard.Replicas[0].Addr) {
			if got := clusterInfoOf(ctx, t, resp.Node{Addr: addr})["cluster_state"]; got != "ok" {
				t.Errorf("%s: cluster_state = %q, want ok", addr, got)
			}
		}
	})
}

// checkShards compares Inspect's answer with the planned target: the primary of before[i] must hold exactly
// target[i] and keep one replica.
func checkShards(t *testing.T, got, before []ShardState, target [][]hashslot.Range) {
	t.Helper()
	byAddr := map[string]ShardState{}
	for _, st := range got {
		byAddr[st.PrimaryAddr] = st
	}
	for i, b := range before {
		st, ok := byAddr[b.PrimaryAddr]
		if !ok {
			t.Errorf("shard %d (%s) is missing from %+v", i, b.PrimaryAddr, got)
			continue
		}
		if !reflect.DeepEqual(st.Slots, hashslot.Normalize(target[i])) {
			t.Errorf("shard %d (%s) slots = %s, want %s", i, b.PrimaryAddr, hashslot.Format(st.Slots), hashslot.Format(target[i]))
		}
		if !reflect.DeepEqual(st.Replicas, b.Replicas) {
			t.Errorf("shard %d (%s) replicas = %v, want %v", i, b.PrimaryAddr, st.Replicas, b.Replicas)
		}
	}
}

func dbsize(ctx context.Context, t *testing.T, n resp.Node) int64 {
	t.Helper()
	c := dial(n)
	defer c.Close()
	v, err := c.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE on %s: %v", n.Addr, err)
	}
	return v
}

// TestMoveSlotsResume cuts a MoveSlots short (slots left MIGRATING/IMPORTING), checks that the cluster still
// serves every key, then runs MoveSlots again to finish.
func TestMoveSlotsResume(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 2, 0, 0, "")
		ctx := testCtx(t, time.Minute)
		cc := clusterClient(t, c.addrs(), "")
		keys := writeKeys(ctx, t, cc, "resume", 5000)
		from, to := c.specs[0].Primary, c.specs[1].Primary
		r := hashslot.Range{Start: 0, End: 2047}

		cut, cancel := context.WithCancel(ctx)
		err := MoveSlots(cut, c.seed(), from, to, r, func(done int) {
			if done == 100 {
				cancel()
			}
		})
		cancel()
		if err == nil {
			t.Fatal("cut-short MoveSlots returned no error")
		}
		// Leave two more slots the way a run killed at a worse moment would: one half-migrated, one handed to
		// the target but not yet released by the source.
		fc, tc := dial(from), dial(to)
		defer fc.Close()
		defer tc.Close()
		fromID, _ := NodeID(ctx, from)
		toID, _ := NodeID(ctx, to)
		var half, handed int
		for s := 2047; s > 1000 && (half == 0 || handed == 0); s-- {
			n, err := fc.ClusterCountKeysInSlot(ctx, s).Result()
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case n >= 2 && half == 0:
				half = s
			case n >= 1 && handed == 0:
				handed = s
			}
		}
		host, port, _ := net.SplitHostPort(to.Addr)
		for _, s := range []int{half, handed} {
			must(t, tc.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID).Err())
			must(t, fc.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", toID).Err())
			ks, err := fc.ClusterGetKeysInSlot(ctx, s, 100).Result()
			must(t, err)
			if s == half {
				ks = ks[:1]
			}
			for _, k := range ks {
				must(t, fc.Migrate(ctx, host, port, k, 0, 5*time.Second).Err())
			}
		}
		must(t, tc.Do(ctx, "CLUSTER", "SETSLOT", handed, "NODE", toID).Err())
		checkKeys(ctx, t, cc, keys)

		var last int
		start := time.Now()
		if err := MoveSlots(ctx, c.seed(), from, to, r, func(done int) { last = done }); err != nil {
			t.Fatalf("MoveSlots again: %v", err)
		}
		t.Logf("finishing the move took %v", time.Since(start).Round(time.Millisecond))
		if last != r.Len() {
			t.Errorf("progress ended at %d, want %d", last, r.Len())
		}
		checkKeys(ctx, t, cc, keys)
		for _, n := range []resp.Node{from, to} {
			me, _ := viewOf(ctx, t, n).self()
			if len(me.Migrating) > 0 || len(me.Importing) > 0 {
				t.Errorf("%s still has slots in migration: %v %v", n.Addr, me.Migrating, me.Importing)
			}
		}
		for _, st := range inspect(ctx, t, c.seed()) {
			want := map[string]string{from.Addr: "2048-8191", to.Addr: "0-2047,8192-16383"}[st.PrimaryAddr]
			if got := hashslot.Format(st.Slots); got != want {
				t.Errorf("%s slots = %s, want %s", st.PrimaryAddr, got, want)
			}
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestScaleIn(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 4, 1, 0, "")
		ctx := testCtx(t, 2*time.Minute)
		cc := clusterClient(t, c.addrs(), "")
		before := writeKeys(ctx, t, cc, "before", 20000)
		l := startLoad(t, cc, "during", 4)

		states := inspect(ctx, t, c.seed())
		if len(states) != 4 {
			t.Fatalf("Inspect: %d shards, want 4", len(states))
		}
		target := hashslot.Balance(assignment(states), 3)
		plan := hashslot.PlanMoves(assignment(states), target)
		for _, m := range plan {
			if m.From != 3 {
				t.Errorf("move %v does not drain shard 3", m)
			}
		}
		moved, took := moveAll(ctx, t, c.seed(), states, plan, "")
		t.Logf("%s: moved %d slots in %v (%.0f slots/s) under load", e.name, moved, took.Round(time.Millisecond), float64(moved)/took.Seconds())
		if moved != 4096 {
			t.Errorf("moved %d slots, want 4096", moved)
		}
		l.stop()
		l.report(t)

		gone := c.specs[3]
		var goneIDs []string
		for _, n := range append([]resp.Node{gone.Primary}, gone.Replicas...) {
			id, err := NodeID(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			goneIDs = append(goneIDs, id)
		}
		if err := RemoveShard(ctx, c.seed(), gone.Primary, gone.Replicas); err != nil {
			t.Fatalf("RemoveShard: %v", err)
		}

		cc2 := clusterClient(t, c.addrs()[:6], "")
		checkKeys(ctx, t, cc2, before)
		checkKeys(ctx, t, cc2, l.keys())

		got := inspect(ctx, t, c.seed())
		if len(got) != 3 {
			t.Fatalf("Inspect: %d shards, want 3: %+v", len(got), got)
		}
		checkShards(t, got, states[:3], target)
		// The removed nodes are unknown to the rest, now and a little later (no gossip brings them back), and
		// know only themselves.
		for round := range 2 {
			if round == 1 {
				time.Sleep(time.Second)
			}
			for _, addr := range c.addrs()[:6] {
				v := viewOf(ctx, t, resp.Node{Addr: addr})
				for _, id := range goneIDs {
					if _, ok := v.byID(id); ok {
						t.Errorf("round %d: %s still knows removed node %s", round, addr, id)
					}
				}
				if len(v) != 6 {
					t.Errorf("round %d: %s knows %d nodes, want 6", round, addr, len(v))
				}
			}
			for _, n := range append([]resp.Node{gone.Primary}, gone.Replicas...) {
				if got := clusterInfoOf(ctx, t, n)["cluster_known_nodes"]; got != "1" {
					t.Errorf("round %d: removed %s knows %s nodes, want 1", round, n.Addr, got)
				}
			}
		}
	})
}

func TestFailover(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 3, 1, 0, "")
		ctx := testCtx(t, time.Minute)
		cc := clusterClient(t, c.addrs(), "")
		before := writeKeys(ctx, t, cc, "before", 5000)

		t.Run("coordinated under writes", func(t *testing.T) {
			l := startLoad(t, cc, "during", 4)
			time.Sleep(200 * time.Millisecond)
			replica, primary := c.specs[0].Replicas[0], c.specs[0].Primary
			start := time.Now()
			if err := Failover(ctx, replica, Coordinated); err != nil {
				t.Fatalf("Failover: %v", err)
			}
			t.Logf("%s: failover took %v", e.name, time.Since(start).Round(time.Millisecond))
			time.Sleep(300 * time.Millisecond)
			l.stop()
			l.report(t)
			if l.writes.Load() == 0 {
				t.Error("no write was acknowledged")
			}
			checkKeys(ctx, t, cc, before)
			checkKeys(ctx, t, cc, l.keys())

			if got := infoOf(ctx, t, replica, "replication")["role"]; got != "master" {
				t.Errorf("new primary role = %q, want master", got)
			}
			newID, _ := NodeID(ctx, replica)
			// The old primary follows the new one.
			err := waitFor(ctx, "the old primary to follow", func(ctx context.Context) (bool, string, error) {
				v := viewOf(ctx, t, primary)
				me, _ := v.self()
				return me.replica() && me.MasterID == newID, fmt.Sprintf("old primary flags %v master %s", me.Flags, me.MasterID), nil
			})
			if err != nil {
				t.Error(err)
			}
			states := inspect(ctx, t, c.seed())
			if states[0].PrimaryAddr != replica.Addr || !reflect.DeepEqual(states[0].Replicas, []string{primary.Addr}) || !reflect.DeepEqual(states[0].Slots, c.specs[0].Slots) {
				t.Errorf("shard 0 after failover = %+v, want primary %s, replica %s", states[0], replica.Addr, primary.Addr)
			}
			// Idempotent on a primary.
			if err := Failover(ctx, replica, Coordinated); err != nil {
				t.Errorf("Failover of a primary: %v", err)
			}
		})

		t.Run("forced with a dead primary", func(t *testing.T) {
			replica, primary := c.specs[1].Replicas[0], c.specs[1].Primary
			// Make sure the replica has everything before the primary dies. (WAIT on a fresh connection covers
			// only that connection's writes on Valkey 8: compare offsets instead.)
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := replication.WaitSynced(sctx, replica, primary)
			cancel()
			if err != nil {
				t.Fatalf("replica in sync before the kill: %v", err)
			}
			c.server(primary.Addr).stop()
			start := time.Now()
			if err := Failover(ctx, replica, Forced); err != nil {
				t.Fatalf("Failover force: %v", err)
			}
			t.Logf("%s: forced failover took %v", e.name, time.Since(start).Round(time.Millisecond))
			err = waitFor(ctx, "cluster_state ok without the dead primary", func(ctx context.Context) (bool, string, error) {
				for _, addr := range c.addrs() {
					if addr == primary.Addr {
						continue
					}
					if st := clusterInfoOf(ctx, t, resp.Node{Addr: addr})["cluster_state"]; st != "ok" {
						return false, addr + ": " + st, nil
					}
				}
				states, err := Inspect(ctx, c.seed())
				if err != nil {
					return false, err.Error(), nil
				}
				if len(states) != 3 || states[1].PrimaryAddr != replica.Addr {
					return false, fmt.Sprintf("want %s as primary of shard 1: %+v", replica.Addr, states), nil
				}
				return true, "", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var live []string
			for _, a := range c.addrs() {
				if a != primary.Addr {
					live = append(live, a)
				}
			}
			checkKeys(ctx, t, clusterClient(t, live, ""), before)
		})
	})
}

func TestPasswords(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		const password = "s3cret-pass"
		c := newCluster(t, e, 2, 1, 0, password)
		ctx := testCtx(t, time.Minute)
		cc := clusterClient(t, c.addrs(), password)
		keys := writeKeys(ctx, t, cc, "auth", 3000)

		// MIGRATE needs AUTH on the target.
		from, to := c.specs[0].Primary, c.specs[1].Primary
		if err := MoveSlots(ctx, c.seed(), from, to, hashslot.Range{Start: 0, End: 199}, nil); err != nil {
			t.Fatalf("MoveSlots with password: %v", err)
		}
		checkKeys(ctx, t, cc, keys)
		for _, st := range inspect(ctx, t, c.seed()) {
			want := map[string]string{from.Addr: "200-8191", to.Addr: "0-199,8192-16383"}[st.PrimaryAddr]
			if got := hashslot.Format(st.Slots); got != want {
				t.Errorf("%s slots = %s, want %s", st.PrimaryAddr, got, want)
			}
		}

		wrong := resp.Node{Addr: from.Addr, Password: "wrong"}
		none := resp.Node{Addr: from.Addr}
		tests := []struct {
			name string
			call func(context.Context) error
		}{
			{"NodeID wrong password", func(ctx context.Context) error { _, err := NodeID(ctx, wrong); return err }},
			{"Inspect no password", func(ctx context.Context) error { _, err := Inspect(ctx, none); return err }},
			{"MoveSlots no password on target", func(ctx context.Context) error {
				return MoveSlots(ctx, c.seed(), from, resp.Node{Addr: to.Addr}, hashslot.Range{Start: 200, End: 210}, nil)
			}},
			{"Failover wrong password", func(ctx context.Context) error {
				return Failover(ctx, resp.Node{Addr: c.specs[0].Replicas[0].Addr, Password: "wrong"}, Coordinated)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				err := tt.call(ctx)
				if err == nil {
					t.Fatal("got no error, want an authentication error")
				}
				if ctx.Err() != nil {
					t.Errorf("error came only with the deadline: %v", err)
				}
				if !strings.Contains(err.Error(), "WRONGPASS") && !strings.Contains(err.Error(), "NOAUTH") && !strings.Contains(err.Error(), "invalid") {
					t.Errorf("error = %v, want an authentication error", err)
				}
			})
		}
	})
}

// TestUnreachable: a dead seed (nothing listening) fails at once, and a node that accepts connections but
// never answers fails within the context deadline or, without one, the read timeout.
func TestUnreachable(t *testing.T) {
	closed := resp.Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(unusedPort(t)))}
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hang.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never answered
		}
	}()
	silent := resp.Node{Addr: hang.Addr().String()}

	calls := []struct {
		name string
		call func(ctx context.Context, n resp.Node) error
	}{
		{"NodeID", func(ctx context.Context, n resp.Node) error { _, err := NodeID(ctx, n); return err }},
		{"Inspect", func(ctx context.Context, n resp.Node) error { _, err := Inspect(ctx, n); return err }},
		{"Create", func(ctx context.Context, n resp.Node) error {
			return Create(ctx, []ShardSpec{{Primary: n, Slots: []hashslot.Range{{Start: 0, End: hashslot.NumSlots - 1}}}})
		}},
		{"AddShard", func(ctx context.Context, n resp.Node) error { return AddShard(ctx, n, ShardSpec{Primary: closed}) }},
		{"MoveSlots", func(ctx context.Context, n resp.Node) error {
			return MoveSlots(ctx, n, n, closed, hashslot.Range{Start: 0, End: 10}, nil)
		}},
		{"RemoveShard", func(ctx context.Context, n resp.Node) error { return RemoveShard(ctx, n, closed, nil) }},
		{"Failover", func(ctx context.Context, n resp.Node) error { return Failover(ctx, n, Forced) }},
	}
	for _, target := range []struct {
		name  string
		node  resp.Node
		limit time.Duration
	}{
		{"closed port", closed, time.Second},
		{"silent node", silent, 1500 * time.Millisecond},
	} {
		for _, tt := range calls {
			t.Run(target.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), target.limit)
				defer cancel()
				start := time.Now()
				err := tt.call(ctx, target.node)
				if err == nil {
					t.Fatal("got no error")
				}
				if took := time.Since(start); took > target.limit+time.Second {
					t.Errorf("returned after %v, want within %v: %v", took, target.limit, err)
				}
			})
		}
	}
	t.Run("silent node without deadline", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		_, err := NodeID(context.Background(), silent)
		if err == nil {
			t.Fatal("got no error")
		}
		if took := time.Since(start); took > readTimeout+dialTimeout+time.Second {
			t.Errorf("returned after %v, want within the read timeout %v: %v", took, readTimeout, err)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		ctx := testCtx(t, time.Second)
		for name, err := range map[string]error{
			"Create no shards":         Create(ctx, nil),
			"Create overlapping":       Create(ctx, []ShardSpec{{Primary: closed, Slots: []hashslot.Range{{Start: 0, End: 10}}}, {Primary: silent, Slots: []hashslot.Range{{Start: 5, End: 20}}}}),
			"Create bad range":         Create(ctx, []ShardSpec{{Primary: closed, Slots: []hashslot.Range{{Start: 0, End: hashslot.NumSlots}}}}),
			"MoveSlots bad range":      MoveSlots(ctx, closed, closed, silent, hashslot.Range{Start: 10, End: 5}, nil),
			"AddShard with slots":      AddShard(ctx, closed, ShardSpec{Primary: silent, Slots: []hashslot.Range{{Start: 0, End: 1}}}),
			"Create node listed twice": Create(ctx, []ShardSpec{{Primary: closed}, {Primary: closed}}),
		} {
			if err == nil {
				t.Errorf("%s: got no error", name)
			}
		}
	})
}

func unusedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

func TestForget(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		c := newCluster(t, e, 2, 2, 0, "")
		ctx := testCtx(t, time.Minute)
		running, stopped := c.specs[0].Replicas[0], c.specs[1].Replicas[0]
		keptDown := c.specs[1].Replicas[1]
		var gone []string
		for _, n := range []resp.Node{running, stopped} {
			id, err := NodeID(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			gone = append(gone, id)
		}
		slices.Sort(gone)
		c.server(stopped.Addr).stop()
		c.server(keptDown.Addr).stop()
		keep := []resp.Node{c.specs[0].Primary, c.specs[0].Replicas[1], c.specs[1].Primary, keptDown}

		forgotten, err := Forget(ctx, keep)
		if err != nil {
			t.Fatalf("Forget: %v", err)
		}
		if !slices.Equal(forgotten, gone) {
			t.Fatalf("Forget forgot %v, want %v", forgotten, gone)
		}
		// Nothing comes back by gossip, the stopped kept node is still known, and the running stranger was
		// reset to know only itself.
		time.Sleep(time.Second)
		for _, n := range keep[:3] {
			v := viewOf(ctx, t, n)
			for _, id := range gone {
				if _, ok := v.byID(id); ok {
					t.Errorf("%s still knows forgotten node %s", n.Addr, id)
				}
			}
			if len(v) != 4 {
				t.Errorf("%s knows %d nodes, want 4 (the stopped kept replica included)", n.Addr, len(v))
			}
			if st := clusterInfoOf(ctx, t, n)["cluster_state"]; st != "ok" {
				t.Errorf("%s: cluster_state %s", n.Addr, st)
			}
		}
		if got := clusterInfoOf(ctx, t, running)["cluster_known_nodes"]; got != "1" {
			t.Errorf("the reset stranger knows %s nodes, want 1", got)
		}
		again, err := Forget(ctx, keep)
		if err != nil || len(again) != 0 {
			t.Errorf("second Forget: %v, %v; want nothing to forget", again, err)
		}
	})
}
