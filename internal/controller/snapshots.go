package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// maxSnapshotFailures is how many copies of a shard may break in a row before the snapshot is failed.
const maxSnapshotFailures = 3

// SnapshotFile is where a snapshot shard's RDB file lives under dir (the snapshot directory).
func SnapshotFile(dir string, snap *resource.Snapshot, sh resource.SnapshotShard) string {
	return filepath.Join(dir, snap.UID, sh.File())
}

// reconcileSnapshot copies the shards of a snapshot being created, one RDB file each, or removes a deleted
// snapshot's files and record. A copy is written to a temporary file and renamed into place only when the whole
// RDB arrived, so an interrupted copy (ecache killed) is simply done again.
func (c *Controller) reconcileSnapshot(ctx context.Context, key string) (bool, error) {
	snap, rev, found, err := load[resource.Snapshot](ctx, c.store, resource.KindSnapshot, key)
	if err != nil || !found {
		return false, err
	}
	switch snap.Status {
	case resource.SnapshotDeleting:
		if err := os.RemoveAll(filepath.Join(c.cfg.SnapshotDir, snap.UID)); err != nil {
			return true, err
		}
		return false, c.store.Update(ctx, func(tx store.Tx) error {
			if err := clearSnapshotting(tx, snap); err != nil {
				return err
			}
			return tx.Delete(resource.KindSnapshot, key, rev)
		})
	case resource.SnapshotExporting:
		return c.exportSnapshot(ctx, key, snap)
	case resource.SnapshotCreating:
	default:
		return false, nil
	}
	for i, sh := range snap.Shards {
		if sh.Copied {
			continue
		}
		start := time.Now()
		size, err := c.copyShard(ctx, snap, sh)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			c.logger.Warn("snapshot copy failed", "snapshot", snap.Name, "nodeGroup", sh.NodeGroupID, "from", sh.CacheClusterID, "err", err)
			return true, c.snapshotFailed(ctx, key, err)
		}
		c.logger.Info("snapshot shard copied", "snapshot", snap.Name, "nodeGroup", sh.NodeGroupID, "from", sh.CacheClusterID, "bytes", size, "took", time.Since(start))
		now := c.cfg.Now().UTC()
		err = resource.Edit(ctx, c.store, resource.KindSnapshot, key, func(tx store.Tx, cur *resource.Snapshot, _ int64) (bool, error) {
			if cur.UID != snap.UID || cur.Status != resource.SnapshotCreating {
				return false, nil
			}
			cur.Shards[i].Copied, cur.Shards[i].Size, cur.Shards[i].CopiedAt, cur.Failures = true, size, now, 0
			if len(cur.Shards) == 1 {
				return true, nil
			}
			return true, resource.AddEvent(tx, now, 0, cur.Region, resource.SourceCacheCluster, sh.CacheClusterID,
				fmt.Sprintf("Snapshot with ID '%s' %s: node group %s copied (%d of %d)", cur.Name, snapshotOf(cur), sh.NodeGroupID, copiedShards(cur), len(cur.Shards)))
		})
		return true, err // the next pass copies the next shard
	}
	now := c.cfg.Now().UTC()
	return false, resource.Edit(ctx, c.store, resource.KindSnapshot, key, func(tx store.Tx, cur *resource.Snapshot, _ int64) (bool, error) {
		if cur.UID != snap.UID || cur.Status != resource.SnapshotCreating {
			return false, nil
		}
		cur.Status = resource.SnapshotAvailable
		if err := clearSnapshotting(tx, cur); err != nil {
			return false, err
		}
		return true, resource.AddEvent(tx, now, 1, cur.Region, resource.SourceCacheCluster, snapshotSourceCluster(cur),
			fmt.Sprintf("Snapshot succeeded for snapshot with ID '%s' %s", cur.Name, snapshotOf(cur)))
	})
}

// snapshotOf says what snap is of, as ElastiCache's snapshot events do: "of replication group with ID 'g'"
// or "of cache cluster with ID 'c'".
func snapshotOf(snap *resource.Snapshot) string {
	if snap.ReplicationGroupID != "" {
		return fmt.Sprintf("of replication group with ID '%s'", snap.ReplicationGroupID)
	}
	return fmt.Sprintf("of cache cluster with ID '%s'", snapshotSourceCluster(snap))
}

// copiedShards counts the node groups of snap copied so far.
func copiedShards(snap *resource.Snapshot) int {
	n := 0
	for _, sh := range snap.Shards {
		if sh.Copied {
			n++
		}
	}
	return n
}

// snapshotFailed counts a broken copy, and fails the snapshot after maxSnapshotFailures in a row.
func (c *Controller) snapshotFailed(ctx context.Context, key string, cause error) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindSnapshot, key, func(tx store.Tx, cur *resource.Snapshot, _ int64) (bool, error) {
		if cur.Status != resource.SnapshotCreating {
			return false, nil
		}
		if cur.Failures++; cur.Failures < maxSnapshotFailures {
			return true, nil
		}
		cur.Status = resource.SnapshotFailed
		if err := clearSnapshotting(tx, cur); err != nil {
			return false, err
		}
		// ElastiCache's text, then the cause, which it tells apart in the cluster's events.
		source := snapshotSourceCluster(cur)
		if err := resource.AddEvent(tx, now, 1, cur.Region, resource.SourceCacheCluster, source, fmt.Sprintf("Snapshot failed for snapshot with ID '%s' %s", cur.Name, snapshotOf(cur))); err != nil {
			return false, err
		}
		return true, resource.AddEvent(tx, now, 2, cur.Region, resource.SourceCacheCluster, source, fmt.Sprintf("Snapshot with ID '%s' could not be copied: %v", cur.Name, cause))
	})
}

// copyShard copies one shard's data into the snapshot's directory: from its source member's engine, or from
// the snapshot it is a copy of.
func (c *Controller) copyShard(ctx context.Context, snap *resource.Snapshot, sh resource.SnapshotShard) (int64, error) {
	if snap.CopyOf != "" {
		// Sealed again with the copy's own key (CopySnapshot may name another KmsKeyId).
		src, _, err := c.readData(filepath.Join(c.cfg.SnapshotDir, snap.CopyOf, sh.File()))
		if err != nil {
			return 0, err
		}
		defer src.Close()
		return c.writeData(SnapshotFile(c.cfg.SnapshotDir, snap, sh), snap.AtRestEncryption, snap.KMSKeyID, func(w io.Writer) (int64, error) { return io.Copy(w, src) })
	}
	obj, err := c.store.Get(ctx, resource.KindCluster, resource.Key(snap.Region, sh.CacheClusterID))
	if err != nil {
		return 0, fmt.Errorf("source cluster %s: %w", sh.CacheClusterID, err)
	}
	cl, err := resource.Unmarshal[resource.Cluster](obj.Value)
	if err != nil {
		return 0, err
	}
	if len(cl.Nodes) == 0 {
		return 0, fmt.Errorf("source cluster %s has no node", cl.ID)
	}
	node := c.directNode(cl) // the engine itself: a durable endpoint hands replication to the relay
	return c.writeData(SnapshotFile(c.cfg.SnapshotDir, snap, sh), snap.AtRestEncryption, snap.KMSKeyID, func(w io.Writer) (int64, error) { return c.engines.Fetch(ctx, node, w) })
}

// clearIf empties *field when it holds value, and reports whether it did.
func clearIf(field *string, value string) bool {
	if *field != value {
		return false
	}
	*field = ""
	return true
}

// clearSnapshotting ends the snapshotting status of the snapshot's sources.
func clearSnapshotting(tx store.Tx, snap *resource.Snapshot) error {
	if snap.ReplicationGroupID != "" {
		err := resource.EditTx(tx, resource.KindReplicationGroup, resource.Key(snap.Region, snap.ReplicationGroupID), func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			return clearIf(&g.Snapshotting, snap.Name), nil
		})
		if err != nil {
			return err
		}
	}
	for _, sh := range snap.Shards {
		err := resource.EditTx(tx, resource.KindCluster, resource.Key(snap.Region, sh.CacheClusterID), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
			return clearIf(&cl.Snapshotting, snap.Name), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finalSnapshotPending reports whether a snapshot is still being copied from cl's engine (a final snapshot
// of a cluster or group being deleted), so that the engine must keep running.
func (c *Controller) finalSnapshotPending(ctx context.Context, cl *resource.Cluster) (bool, error) {
	objs, err := c.store.List(ctx, resource.KindSnapshot)
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		snap, err := resource.Unmarshal[resource.Snapshot](o.Value)
		if err != nil || snap.Region != cl.Region || snap.Status != resource.SnapshotCreating || snap.CopyOf != "" {
			continue
		}
		for _, sh := range snap.Shards {
			if sh.CacheClusterID == cl.ID && !sh.Copied {
				return true, nil
			}
		}
	}
	return false, nil
}

// exportSnapshot uploads each file of a snapshot being exported to its bucket, then makes the snapshot
// available again. A refusal (bucket gone, permission withdrawn) ends the export at once; other failures
// are retried a few times. Each upload is a single PUT, so an object appears whole or not at all, and an
// export cut short by a restart is done again.
func (c *Controller) exportSnapshot(ctx context.Context, key string, snap *resource.Snapshot) (bool, error) {
	exp := snap.Export
	err := c.uploadExport(ctx, snap)
	if err != nil && ctx.Err() != nil {
		return false, nil
	}
	refused := errors.Is(err, errNoObjectStore) || errors.Is(err, objectstore.ErrAccessDenied) || errors.Is(err, objectstore.ErrNoSuchBucket)
	if err != nil {
		c.logger.Warn("snapshot export failed", "snapshot", snap.Name, "bucket", exp.Bucket, "err", err)
	}
	retry := false
	now := c.cfg.Now().UTC()
	editErr := resource.Edit(ctx, c.store, resource.KindSnapshot, key, func(tx store.Tx, cur *resource.Snapshot, _ int64) (bool, error) {
		if cur.UID != snap.UID || cur.Status != resource.SnapshotExporting {
			return false, nil
		}
		if err != nil && !refused {
			if cur.Failures++; cur.Failures < maxSnapshotFailures {
				retry = true
				return true, nil
			}
		}
		cur.Status, cur.Export, cur.Failures = resource.SnapshotAvailable, nil, 0
		msg := fmt.Sprintf("Snapshot export succeeded for snapshot with ID '%s' to S3 bucket '%s'", cur.Name, exp.Bucket)
		if err != nil {
			msg = fmt.Sprintf("Snapshot export failed for snapshot with ID '%s' to S3 bucket '%s': %v", cur.Name, exp.Bucket, err)
		}
		return true, resource.AddEvent(tx, now, 1, cur.Region, resource.SourceCacheCluster, snapshotSourceCluster(cur), msg)
	})
	return retry, editErr
}

var errNoObjectStore = errors.New("no object store is configured (--s3-endpoint)")

// uploadExport uploads each node group's file of a snapshot being exported.
func (c *Controller) uploadExport(ctx context.Context, snap *resource.Snapshot) error {
	if c.cfg.Objects == nil {
		return errNoObjectStore
	}
	for _, sh := range snap.Shards {
		key := snap.ExportKey(snap.Export.Name, sh)
		// The bucket's object is the engine's RDB file, as ElastiCache exports it.
		file, done, err := c.plainFile(SnapshotFile(c.cfg.SnapshotDir, snap, sh))
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		err = c.cfg.Objects.Upload(ctx, snap.Export.Bucket, key, file, snap.ExportMetadata(sh))
		done()
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

// snapshotSourceCluster is the cache cluster a snapshot's events are reported for.
func snapshotSourceCluster(snap *resource.Snapshot) string {
	if snap.CacheClusterID != "" || len(snap.Shards) == 0 {
		return snap.CacheClusterID
	}
	return snap.Shards[0].CacheClusterID
}
