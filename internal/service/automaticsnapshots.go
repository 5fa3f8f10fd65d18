package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// TakeScheduledSnapshots takes the daily automatic snapshot of every cache cluster and replication group with
// a SnapshotRetentionLimit above 0 whose SnapshotWindow is open and that has none from this opening yet,
// named automatic.<id>-YYYY-MM-DD-HH-MM; a source that is busy (not available, or snapshotting) is tried again
// while the window stays open. It also deletes automatic snapshots older than their retention limit, and
// those whose cluster or group no longer exists.
func (s *Service) TakeScheduledSnapshots(ctx context.Context) error {
	now := s.now().UTC()
	clusters, err := s.store.List(ctx, resource.KindCluster)
	if err != nil {
		return err
	}
	groups, err := s.store.List(ctx, resource.KindReplicationGroup)
	if err != nil {
		return err
	}
	sources := map[string]bool{} // store kind and key of every cluster and group
	for _, o := range clusters {
		sources[resource.KindCluster+"|"+o.Key] = true
	}
	for _, o := range groups {
		sources[resource.KindReplicationGroup+"|"+o.Key] = true
	}
	var errs []error
	for _, o := range clusters {
		c, err := resource.Unmarshal[resource.Cluster](o.Value)
		if err != nil || c.ReplicationGroupID != "" || c.Engine == engine.EngineMemcached {
			continue // members are snapshotted with their group
		}
		if opened, due := snapshotDue(c.SnapshotRetentionLimit, c.SnapshotWindow, c.AutomaticSnapshotAt, now); due {
			errs = append(errs, s.takeAutomaticSnapshot(ctx, c.Region, c.ID, "", opened, now))
		}
	}
	for _, o := range groups {
		g, err := resource.Unmarshal[resource.ReplicationGroup](o.Value)
		if err != nil {
			continue
		}
		if opened, due := snapshotDue(g.SnapshotRetentionLimit, g.SnapshotWindow, g.AutomaticSnapshotAt, now); due {
			errs = append(errs, s.takeAutomaticSnapshot(ctx, g.Region, "", g.ID, opened, now))
		}
	}
	return errors.Join(append(errs, s.expireAutomaticSnapshots(ctx, now, sources))...)
}

// snapshotDue reports whether a source with retention days of automatic snapshots, daily window and last
// automatic snapshot at last is due for one now, and when the window opened.
func snapshotDue(retention int32, window string, last, now time.Time) (time.Time, bool) {
	if retention <= 0 || window == "" {
		return time.Time{}, false
	}
	start, length, err := parseSnapshotWindow(window)
	if err != nil {
		return time.Time{}, false
	}
	midnight := now.Truncate(24 * time.Hour)
	for _, day := range []time.Time{midnight, midnight.Add(-24 * time.Hour)} {
		opened := day.Add(time.Duration(start) * time.Minute)
		if !now.Before(opened) && now.Before(opened.Add(time.Duration(length)*time.Minute)) {
			return opened, last.Before(opened)
		}
	}
	return time.Time{}, false
}

// takeAutomaticSnapshot records an automatic snapshot of cluster clusterID or group groupID, unless the
// source changed or is busy; the controller copies it like a manual one.
func (s *Service) takeAutomaticSnapshot(ctx context.Context, rg, clusterID, groupID string, opened, now time.Time) error {
	id := clusterID + groupID
	name := fmt.Sprintf("automatic.%s-%s", id, now.Format("2006-01-02-15-04"))
	err := s.store.Update(ctx, func(tx store.Tx) error {
		snap, err := s.newSnapshot(tx, rg, name, clusterID, groupID, "automated")
		if err != nil {
			return err
		}
		if err := putSnapshot(tx, snap); err != nil {
			return err
		}
		if err := markSnapshotting(tx, snap); err != nil {
			return err
		}
		if groupID != "" {
			g, obj, err := getGroup(tx, rg, groupID)
			if err != nil {
				return err
			}
			g.AutomaticSnapshotAt = now
			_, err = tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision)
			return err
		}
		c, obj, err := getRecord[resource.Cluster](tx, resource.KindCluster, resource.Key(rg, clusterID), func() error {
			return api.CacheClusterNotFoundFault("CacheCluster not found: %s", clusterID)
		})
		if err != nil {
			return err
		}
		c.AutomaticSnapshotAt = now
		_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision)
		return err
	})
	if api.IsFault(err) {
		return nil // busy (modifying, snapshotting…) or gone: tried again on the next pass while the window is open
	}
	if err == nil {
		s.logger.Info("automatic snapshot", "snapshot", name, "window_opened", opened)
	}
	return err
}

// expireAutomaticSnapshots deletes automatic snapshots past their retention limit, or whose cluster or group
// is not among sources (store kind and key).
func (s *Service) expireAutomaticSnapshots(ctx context.Context, now time.Time, sources map[string]bool) error {
	objs, err := s.store.List(ctx, resource.KindSnapshot)
	if err != nil {
		return err
	}
	deletable := func(snap *resource.Snapshot) bool {
		return snap.Source == "automated" && (snap.Status == resource.SnapshotAvailable || snap.Status == resource.SnapshotFailed)
	}
	for _, o := range objs {
		snap, err := resource.Unmarshal[resource.Snapshot](o.Value)
		if err != nil || !deletable(snap) {
			continue
		}
		source := resource.KindCluster + "|" + resource.Key(snap.Region, snap.CacheClusterID)
		if snap.ReplicationGroupID != "" {
			source = resource.KindReplicationGroup + "|" + resource.Key(snap.Region, snap.ReplicationGroupID)
		}
		expired := now.Sub(snap.CreatedAt) >= time.Duration(max(snap.SnapshotRetentionLimit, 1))*24*time.Hour
		if !expired && sources[source] {
			continue
		}
		err = s.store.Update(ctx, func(tx store.Tx) error {
			cur, obj, err := getRecord[resource.Snapshot](tx, resource.KindSnapshot, o.Key, func() error { return nil })
			if err != nil || cur == nil || cur.UID != snap.UID || !deletable(cur) {
				return err
			}
			cur.Status = resource.SnapshotDeleting
			_, err = tx.Put(resource.KindSnapshot, obj.Key, resource.Marshal(cur), obj.Revision)
			return err
		})
		if err != nil {
			return err
		}
		s.logger.Info("automatic snapshot expired", "snapshot", snap.Name)
	}
	return nil
}
