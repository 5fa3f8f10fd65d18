package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Ports of the group the failover tests run: members on 29001.., endpoints on 29050 and 29051.
const (
	groupPrimaryPort = 29050
	groupReaderPort  = 29051
)

func memberAddr(i int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(29000+i)) }

// putGroup writes a cluster mode disabled group with automatic failover and members g-001 (the primary),
// g-002 … as the service writes them, and waits until the controller made it available.
func (h *harness) putGroup(t *testing.T, members int) {
	t.Helper()
	h.putGroupWith(t, members, func(*resource.ReplicationGroup, *resource.Cluster, int) {})
}

// putGroupWith is putGroup with each member cluster (and the group, on the first) adjusted by edit first.
func (h *harness) putGroupWith(t *testing.T, members int, edit func(g *resource.ReplicationGroup, cl *resource.Cluster, i int)) {
	t.Helper()
	h.clock.ticking()
	g := &resource.ReplicationGroup{Region: "us-east-1", ID: "g", UID: "ug", Status: resource.StatusCreating, Engine: "redis",
		EngineVersion: "7.0", NodeType: "cache.t3.micro", AutomaticFailover: true, MultiAZ: true, ClusterMode: "disabled",
		ParameterGroup: "default.redis7", MaintenanceWindow: "thu:03:00-thu:04:00", PrimaryPort: groupPrimaryPort, ReaderPort: groupReaderPort,
		NodeGroups: []resource.NodeGroup{{ID: "0001", Status: resource.StatusCreating}}}
	err := h.st.Update(context.Background(), func(tx store.Tx) error {
		for i := 1; i <= members; i++ {
			cl := newRedis(fmt.Sprintf("g-%03d", i), 29000+i)
			cl.ReplicationGroupID = "g"
			edit(g, cl, i)
			role := resource.RoleReplica
			if i == 1 {
				role = resource.RolePrimary
			}
			g.NodeGroups[0].Members = append(g.NodeGroups[0].Members, resource.Member{ClusterID: cl.ID, Role: role})
			if _, err := tx.Put(resource.KindCluster, resource.Key(cl.Region, cl.ID), resource.Marshal(cl), store.AnyRevision); err != nil {
				return err
			}
		}
		_, err := tx.Put(resource.KindReplicationGroup, resource.Key(g.Region, g.ID), resource.Marshal(g), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitGroup(t, "available", func(g *resource.ReplicationGroup) bool { return g.Status == resource.StatusAvailable })
	for i := 1; i <= members; i++ {
		h.waitStatus(t, fmt.Sprintf("g-%03d", i), resource.StatusAvailable)
	}
}

func (h *harness) group(t *testing.T) *resource.ReplicationGroup {
	t.Helper()
	obj, err := h.st.Get(context.Background(), resource.KindReplicationGroup, resource.Key("us-east-1", "g"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := resource.Unmarshal[resource.ReplicationGroup](obj.Value)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func (h *harness) waitGroup(t *testing.T, what string, cond func(*resource.ReplicationGroup) bool) *resource.ReplicationGroup {
	t.Helper()
	var g *resource.ReplicationGroup
	waitFor(t, "group "+what, func() error {
		if g = h.group(t); !cond(g) {
			return fmt.Errorf("group is %+v", g)
		}
		return nil
	})
	return g
}

// setOffsets scripts the members' replication offsets: the primary's first, then each replica's.
func (h *harness) setOffsets(offsets ...int64) {
	for i, off := range offsets {
		addr := memberAddr(i + 1)
		st, _ := h.eng.state(addr)
		st.Offset = off
		h.eng.set(addr, st)
	}
}

// killEngine ends a member's engine as a crash would: its process is gone and it answers nothing.
// It may run on a controller goroutine, so it reports with Error, not Fatal.
func (h *harness) killEngine(t *testing.T, member int) {
	t.Helper()
	h.eng.remove(memberAddr(member))
	if err := h.drv.Kill(context.Background(), fmt.Sprintf("g-%03d-0001-u1", member)); err != nil {
		t.Errorf("kill g-%03d: %v", member, err)
	}
}

func primaryOf(g *resource.ReplicationGroup) string { return g.NodeGroups[0].Primary() }

// TestAutomaticFailoverPicksTheMostUpToDateReplica: the primary's engine dies; of two replicas at different
// offsets the one further ahead is promoted (not the first listed), the primary endpoint follows it, and the
// old primary comes back as its replica.
func TestAutomaticFailoverPicksTheMostUpToDateReplica(t *testing.T) {
	h := start(t)
	h.putGroup(t, 3)
	h.setOffsets(1000, 800, 950)
	h.killEngine(t, 1)
	g := h.waitGroup(t, "failed over", func(g *resource.ReplicationGroup) bool { return primaryOf(g) != "g-001" })
	if got := primaryOf(g); got != "g-003" {
		t.Fatalf("promoted %s, want g-003 (offset 950, ahead of g-002 at 800)", got)
	}
	if calls := h.eng.callLog(); slices.Contains(calls, "promote "+memberAddr(2)) {
		t.Errorf("g-002 was promoted too: %v", calls)
	}
	h.waitGroup(t, "recovered", func(g *resource.ReplicationGroup) bool {
		return len(g.Recovering) == 0 && g.Status == resource.StatusAvailable
	})
	if st, _ := h.eng.state(memberAddr(1)); st.Role != replication.RoleReplica || st.MasterAddr != memberAddr(3) {
		t.Errorf("old primary after recovery: %+v, want a replica of g-003", st)
	}
	h.ctl.listeners.mu.Lock()
	fw := h.ctl.listeners.forwarders[resource.Key("us-east-1", "g")+endpointPrimary]
	h.ctl.listeners.mu.Unlock()
	if fw == nil || !slices.Equal(fw.Backends(), []string{memberAddr(3)}) {
		t.Errorf("primary endpoint backends = %v, want [%s]", fw.Backends(), memberAddr(3))
	}
}

// TestFailoverWhenTheChosenReplicaDies: the replica picked to replace a dead primary dies while it is being
// promoted; the failover is tried again and promotes the other replica.
func TestFailoverWhenTheChosenReplicaDies(t *testing.T) {
	h := start(t)
	h.putGroup(t, 3)
	h.setOffsets(1000, 800, 950)
	var once bool
	h.eng.promoting = func(candidate string) {
		if candidate == memberAddr(3) && !once {
			once = true
			h.killEngine(t, 3)
		}
	}
	h.killEngine(t, 1)
	g := h.waitGroup(t, "failed over", func(g *resource.ReplicationGroup) bool { return primaryOf(g) != "g-001" })
	if got := primaryOf(g); got != "g-002" {
		t.Fatalf("promoted %s, want g-002 (g-003 died while being promoted)", got)
	}
	h.waitGroup(t, "recovered", func(g *resource.ReplicationGroup) bool {
		return len(g.Recovering) == 0 && g.Status == resource.StatusAvailable
	})
	for _, m := range []int{1, 3} {
		if st, _ := h.eng.state(memberAddr(m)); st.Role != replication.RoleReplica || st.MasterAddr != memberAddr(2) {
			t.Errorf("g-%03d after recovery: %+v, want a replica of g-002", m, st)
		}
	}
}

// TestFailoverResumesAfterARestart: ecache is killed right after the engines were told to promote a replica
// and before the group's record says so; the next ecache finishes the same failover.
func TestFailoverResumesAfterARestart(t *testing.T) {
	h := start(t)
	h.putGroup(t, 3)
	h.setOffsets(1000, 800, 950)
	h.eng.promoting = func(string) { go h.stop() } // the controller dies while Promote runs
	h.killEngine(t, 1)
	waitFor(t, "a promotion", func() error {
		for _, c := range h.eng.callLog() {
			if c == "promote "+memberAddr(3) {
				return nil
			}
		}
		return fmt.Errorf("calls: %v", h.eng.callLog())
	})
	h.stop()
	h.eng.promoting = nil
	h.run(t)
	g := h.waitGroup(t, "failed over after the restart", func(g *resource.ReplicationGroup) bool {
		return primaryOf(g) != "g-001" && len(g.Recovering) == 0 && g.Status == resource.StatusAvailable
	})
	if got := primaryOf(g); got != "g-003" {
		t.Fatalf("primary after the restart = %s, want g-003, promoted before the restart", got)
	}
}

// TestTestFailoverEvents: a requested failover (TestFailover) of a healthy group is a planned promotion of
// the old primary's best replica, and its events come in ElastiCache's order.
func TestTestFailoverEvents(t *testing.T) {
	h := start(t)
	h.putGroup(t, 2)
	h.setOffsets(500, 500)
	before := len(h.events(t))
	err := resource.Edit(context.Background(), h.st, resource.KindReplicationGroup, resource.Key("us-east-1", "g"),
		func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			g.Failover = &resource.Failover{NodeGroupID: "0001", From: "g-001", Test: true, StartedAt: h.clock.Now()}
			return true, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	h.waitGroup(t, "failed over and recovered", func(g *resource.ReplicationGroup) bool {
		return primaryOf(g) == "g-002" && g.Failover == nil && len(g.Recovering) == 0 && g.Status == resource.StatusAvailable
	})
	want := []string{
		"Failover from primary node g-001 to replica node g-002 completed", // on g-002
		"Failover from primary node g-001 to replica node g-002 completed", // on the group
		"Recovering cache nodes 0001",                                      // on g-001
		"Finished recovery for cache nodes 0001",                           // on g-001
	}
	if got := h.events(t)[before:]; !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	if st, _ := h.eng.state(memberAddr(1)); st.Role != replication.RoleReplica {
		t.Errorf("old primary: %+v, want a replica", st)
	}
}

// A primary change asked for without ApplyImmediately waits for the maintenance window, then happens as a
// planned promotion.
func TestPendingPrimaryWaitsForTheMaintenanceWindow(t *testing.T) {
	h := start(t)
	h.putGroup(t, 3)
	h.setOffsets(500, 500, 500)
	h.clock.Set(time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)) // Wednesday noon; the window is thu:03:00-thu:04:00
	err := resource.Edit(context.Background(), h.st, resource.KindReplicationGroup, resource.Key("us-east-1", "g"),
		func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			g.PendingPrimary = "g-003"
			return true, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // resyncs pass: nothing may happen outside the window
	if g := h.group(t); primaryOf(g) != "g-001" || g.PendingPrimary != "g-003" {
		t.Fatalf("outside the window: primary %s, pending %q; want g-001 and g-003 still pending", primaryOf(g), g.PendingPrimary)
	}
	h.clock.Set(time.Date(2026, 11, 19, 3, 30, 0, 0, time.UTC)) // Thursday 03:30
	h.waitGroup(t, "promoted in the window", func(g *resource.ReplicationGroup) bool {
		return primaryOf(g) == "g-003" && g.PendingPrimary == "" && g.Failover == nil && g.Status == resource.StatusAvailable
	})
}

// ownAddr is where member i of a group with own addresses listens (putOwnGroup), and ownPrimary the address
// of its PrimaryEndpoint.
func ownAddr(i int) string { return net.JoinHostPort(resource.SlotAddress(i), "6379") }

var ownPrimary = resource.SlotAddress(50)

// putOwnGroup is putGroup for a group whose members and PrimaryEndpoint have addresses of their own.
func (h *harness) putOwnGroup(t *testing.T, members int) {
	t.Helper()
	h.putGroupWith(t, members, func(g *resource.ReplicationGroup, cl *resource.Cluster, i int) {
		g.OwnAddresses, g.Port, g.PrimaryAddress, g.PrimaryPort = true, 6379, ownPrimary, 6379
		cl.OwnAddresses, cl.Port = true, 6379
		cl.Nodes[0].Address, cl.Nodes[0].Port = resource.SlotAddress(i), 6379
	})
}

// TestPrimaryAddressFollowsThePrimary: in a group with own addresses the primary's engine itself listens at
// the PrimaryEndpoint's address and ecache opens no forwarder there; a crashed primary's address goes to the
// promoted replica, and at a planned failover the old primary gives it up before the new one takes it.
func TestPrimaryAddressFollowsThePrimary(t *testing.T) {
	h := start(t)
	h.putOwnGroup(t, 3)
	waitFor(t, "the primary listening at the endpoint", func() error {
		if got := h.eng.holder(ownPrimary); got != ownAddr(1) {
			return fmt.Errorf("%s held by %q", ownPrimary, got)
		}
		return nil
	})
	key := resource.Key("us-east-1", "g")
	h.ctl.listeners.mu.Lock()
	primaryFw, readerFw := h.ctl.listeners.forwarders[key+endpointPrimary], h.ctl.listeners.forwarders[key+endpointReader]
	h.ctl.listeners.mu.Unlock()
	if primaryFw != nil || readerFw == nil {
		t.Fatalf("forwarders: primary %v, reader %v; want none for the primary, one for the reader", primaryFw, readerFw)
	}

	for i, off := range []int64{1000, 800, 950} {
		st, _ := h.eng.state(ownAddr(i + 1))
		st.Offset = off
		h.eng.set(ownAddr(i+1), st)
	}
	h.eng.remove(ownAddr(1))
	if err := h.drv.Kill(context.Background(), "g-001-0001-u1"); err != nil {
		t.Fatal(err)
	}
	h.waitGroup(t, "failed over", func(g *resource.ReplicationGroup) bool { return primaryOf(g) == "g-003" })
	if got := h.eng.holder(ownPrimary); got != ownAddr(3) {
		t.Fatalf("after the crash failover %s is held by %q, want the promoted g-003 (%s)", ownPrimary, got, ownAddr(3))
	}
	h.waitGroup(t, "recovered", func(g *resource.ReplicationGroup) bool {
		return len(g.Recovering) == 0 && g.Status == resource.StatusAvailable
	})

	err := resource.Edit(context.Background(), h.st, resource.KindReplicationGroup, key,
		func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			g.Failover = &resource.Failover{NodeGroupID: "0001", From: "g-003", Target: "g-002", StartedAt: h.clock.Now()}
			return true, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	h.waitGroup(t, "planned failover", func(g *resource.ReplicationGroup) bool { return primaryOf(g) == "g-002" && g.Failover == nil })
	if got := h.eng.holder(ownPrimary); got != ownAddr(2) {
		t.Fatalf("after the planned failover %s is held by %q, want g-002 (%s)", ownPrimary, got, ownAddr(2))
	}
	calls := h.eng.callLog()
	left := slices.Index(calls, fmt.Sprintf("listen %s on []", ownAddr(3)))
	took := slices.Index(calls, fmt.Sprintf("listen %s on [%s]", ownAddr(2), ownPrimary))
	if left < 0 || took < left {
		t.Errorf("g-003 gave up the endpoint at call %d, g-002 took it at call %d; want g-003 first: %q", left, took, calls)
	}
}

// TestFailoverWhileSnapshotsCopy: more snapshot copies than the controller has workers are due, and as many
// as there are workers are under way, each held inside its copy, when a primary dies. The failover does not
// wait for the copies: a long job of one kind never holds up another kind's reconciles.
func TestFailoverWhileSnapshotsCopy(t *testing.T) {
	h := start(t)
	h.putGroup(t, 2)
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	h.eng.mu.Lock()
	h.eng.fetching = func(ctx context.Context, w io.Writer) (int64, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 0, errors.New("copy given up")
	}
	h.eng.mu.Unlock()
	defer close(release)
	const copies, workers = 6, 4 // the default number of workers
	err := h.st.Update(context.Background(), func(tx store.Tx) error {
		for i := range copies {
			snap := &resource.Snapshot{Region: "us-east-1", Name: fmt.Sprintf("s%d", i), UID: fmt.Sprintf("snap%d", i), Status: resource.SnapshotCreating,
				CacheClusterID: "g-002", Shards: []resource.SnapshotShard{{NodeGroupID: "0001", CacheClusterID: "g-002"}}}
			if _, err := tx.Put(resource.KindSnapshot, resource.Key(snap.Region, snap.Name), resource.Marshal(snap), store.AnyRevision); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range workers {
		<-started
	}
	h.killEngine(t, 1)
	h.waitGroup(t, "failed over to g-002 while the copies are held", func(g *resource.ReplicationGroup) bool { return primaryOf(g) == "g-002" })
}
