package service

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// TestAutomaticSnapshotSchedule drives the schedule with a set clock: one automatic snapshot per opening of
// the daily window, none outside it or while the source is busy, expiry after SnapshotRetentionLimit days,
// and deletion with the source.
func TestAutomaticSnapshotSchedule(t *testing.T) {
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	host := engine.NewHost(engine.Binary{Engine: engine.EngineValkey, Path: "/usr/bin/valkey-server", Version: "8.0.1"})
	clock := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)
	s := New(st, host, Config{AccountID: groupTestAccount, NodeHost: "127.0.0.1", PortLow: 30000, PortHigh: 30999, Quotas: DefaultQuotas()},
		func() time.Time { return clock }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	for id, retention := range map[string]int32{"daily": 2, "never": 0} {
		if _, err := s.CreateCacheCluster(ctx, &api.CreateCacheClusterMessage{
			CacheClusterId: ptr(id), Engine: ptr("valkey"), CacheNodeType: ptr("cache.t3.small"),
			SnapshotWindow: ptr("23:30-00:30"), SnapshotRetentionLimit: ptr(retention),
		}); err != nil {
			t.Fatal(err)
		}
	}
	setCluster := func(id string, fn func(*resource.Cluster)) {
		t.Helper()
		err := st.Update(ctx, func(tx store.Tx) error {
			c, obj, err := getRecord[resource.Cluster](tx, resource.KindCluster, resource.Key("us-east-1", id), func() error { return store.ErrNotFound })
			if err != nil {
				return err
			}
			fn(c)
			_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	available := func(c *resource.Cluster) { c.Status, c.Snapshotting = resource.StatusAvailable, "" }
	setCluster("daily", available)
	setCluster("never", available)
	snapshots := func() map[string]*resource.Snapshot {
		t.Helper()
		objs, err := st.List(ctx, resource.KindSnapshot)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*resource.Snapshot{}
		for _, o := range objs {
			snap, err := resource.Unmarshal[resource.Snapshot](o.Value)
			if err != nil {
				t.Fatal(err)
			}
			out[snap.Name] = snap
		}
		return out
	}
	// run advances the clock to at and runs the schedule.
	run := func(at time.Time) map[string]*resource.Snapshot {
		t.Helper()
		clock = at
		if err := s.TakeScheduledSnapshots(ctx); err != nil {
			t.Fatal(err)
		}
		return snapshots()
	}
	// copied is what the controller does once a snapshot's files are copied.
	copied := func(name string) {
		t.Helper()
		err := st.Update(ctx, func(tx store.Tx) error {
			snap, obj, err := getRecord[resource.Snapshot](tx, resource.KindSnapshot, resource.Key("us-east-1", name), func() error { return store.ErrNotFound })
			if err != nil {
				return err
			}
			snap.Status = resource.SnapshotAvailable
			_, err = tx.Put(resource.KindSnapshot, obj.Key, resource.Marshal(snap), obj.Revision)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		setCluster("daily", available)
	}
	names := func(m map[string]*resource.Snapshot) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}

	if got := run(time.Date(2026, 11, 20, 23, 29, 0, 0, time.UTC)); len(got) != 0 {
		t.Fatalf("before the window: %v", names(got))
	}
	setCluster("daily", func(c *resource.Cluster) { c.Status = resource.StatusModifying })
	if got := run(time.Date(2026, 11, 20, 23, 31, 0, 0, time.UTC)); len(got) != 0 {
		t.Fatalf("while the cluster is modifying: %v", names(got))
	}
	setCluster("daily", available)
	first := "automatic.daily-2026-11-20-23-41"
	got := run(time.Date(2026, 11, 20, 23, 41, 0, 0, time.UTC))
	if snap := got[first]; len(got) != 1 || snap == nil || snap.Source != "automated" || snap.Status != resource.SnapshotCreating || snap.CacheClusterID != "daily" {
		t.Fatalf("in the window: %v (%+v)", names(got), got[first])
	}
	if c := describeOne(t, s, "daily"); deref(c.CacheClusterStatus) != resource.StatusSnapshotting {
		t.Errorf("source while its automatic snapshot is copied: %s", deref(c.CacheClusterStatus))
	}
	copied(first)
	// Past midnight the same opening of the window (23:30-00:30) is still open: no second snapshot.
	if got := run(time.Date(2026, 11, 21, 0, 20, 0, 0, time.UTC)); len(got) != 1 {
		t.Fatalf("later in the same window: %v", names(got))
	}
	second := "automatic.daily-2026-11-21-23-30"
	if got := run(time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC)); len(got) != 2 || got[second] == nil {
		t.Fatalf("the next day: %v", names(got))
	}
	copied(second)
	// Two days after the first: it has expired (SnapshotRetentionLimit 2); the third is taken.
	got = run(time.Date(2026, 11, 22, 23, 45, 0, 0, time.UTC))
	if got[first].Status != resource.SnapshotDeleting || got[second].Status != resource.SnapshotAvailable || got["automatic.daily-2026-11-22-23-45"] == nil {
		t.Fatalf("two days later: %v, first %s, second %s", names(got), got[first].Status, got[second].Status)
	}
	for _, snap := range got {
		if snap.CacheClusterID == "never" {
			t.Errorf("a cluster with SnapshotRetentionLimit 0 got %s", snap.Name)
		}
	}
	// Automatic snapshots go with their cluster.
	copied("automatic.daily-2026-11-22-23-45")
	if err := st.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(resource.KindCluster, resource.Key("us-east-1", "daily"))
		if err != nil {
			return err
		}
		return tx.Delete(resource.KindCluster, obj.Key, obj.Revision)
	}); err != nil {
		t.Fatal(err)
	}
	for name, snap := range run(time.Date(2026, 11, 22, 23, 50, 0, 0, time.UTC)) {
		if name != first && snap.Status != resource.SnapshotDeleting {
			t.Errorf("%s after its cluster was deleted: %s", name, snap.Status)
		}
	}
}

func describeOne(t *testing.T, s *Service, id string) api.CacheCluster {
	t.Helper()
	out, err := s.DescribeCacheClusters(context.Background(), &api.DescribeCacheClustersMessage{CacheClusterId: ptr(id)})
	if err != nil || len(out.CacheClusters) != 1 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.CacheClusters[0]
}
