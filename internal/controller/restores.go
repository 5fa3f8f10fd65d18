package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// restoreRefusal is why a restore cannot succeed, from the error of one of its steps, or "" when another
// try may: the object store refused the file, or an engine could not read it.
func restoreRefusal(err error) string {
	switch {
	case errors.Is(err, driver.ErrSeedRejected):
		return engineReason(err)
	case errors.Is(err, objectstore.ErrNoSuchKey), errors.Is(err, objectstore.ErrNoSuchBucket),
		errors.Is(err, objectstore.ErrAccessDenied), errors.Is(err, errNoObjectStore):
		return err.Error()
	}
	return ""
}

// restoreFailure is the event that ends a restore of cl that cannot succeed (see restoreRefusal), or "".
func restoreFailure(cl *resource.Cluster, results map[string]nodeResult) string {
	if cl.Status != resource.StatusCreating {
		return ""
	}
	for _, n := range cl.Nodes {
		if r := results[n.ID]; r.restoreFailed != "" {
			return fmt.Sprintf("Failed to restore cache node %s from snapshot '%s': %s", n.ID, cl.SeedName, r.restoreFailed)
		}
	}
	return ""
}

// failCreation ends the creation of group g when a member's restore failed: the group shows create-failed
// and its other members restore-failed, so that every engine stops. It reports whether it did.
func (c *Controller) failCreation(ctx context.Context, key string, g *resource.ReplicationGroup) (bool, error) {
	var failed *resource.Cluster
	for _, id := range g.MemberIDs() {
		cl, _, err := resource.Load[resource.Cluster](ctx, c.store, resource.KindCluster, resource.Key(g.Region, id))
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return false, err
		}
		if cl.Status == resource.StatusRestoreFailed {
			failed = cl
			break
		}
	}
	if failed == nil {
		return false, nil
	}
	now := c.cfg.Now().UTC()
	err := resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		if cur.Status != resource.StatusCreating {
			return false, nil
		}
		cur.Status = resource.StatusCreateFailed
		for _, id := range cur.MemberIDs() {
			err := resource.EditTx(tx, resource.KindCluster, resource.Key(cur.Region, id), func(_ store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
				if cl.Status == resource.StatusDeleting || cl.Status == resource.StatusRestoreFailed {
					return false, nil
				}
				cl.Status = resource.StatusRestoreFailed
				return true, nil
			})
			if err != nil {
				return false, err
			}
		}
		return true, resource.AddEvent(tx, now, 1, cur.Region, resource.SourceReplicationGroup, cur.ID,
			fmt.Sprintf("Failed to create replication group %s: cache cluster %s could not be restored from snapshot '%s'", cur.ID, failed.ID, failed.SeedName))
	})
	return true, err
}

// downloadSeed fetches the object a restoring node loads to its path under the snapshot directory, unless
// the file is not an import or an earlier pass downloaded it.
func (c *Controller) downloadSeed(ctx context.Context, cl *resource.Cluster, f resource.SeedFile) error {
	clusterID := cl.ID
	path := filepath.Join(c.cfg.SnapshotDir, f.Path)
	if f.Object == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if c.cfg.Objects == nil {
		return fmt.Errorf("cluster %s restores from %s: %w", clusterID, f.Object, errNoObjectStore)
	}
	bucket, objKey, _ := strings.Cut(f.Object, "/")
	n, err := c.writeData(path, cl.AtRestEncryption, "", func(w io.Writer) (int64, error) { return c.cfg.Objects.Download(ctx, bucket, objKey, w) })
	if err != nil {
		return fmt.Errorf("download %s for cluster %s: %w", f.Object, clusterID, err)
	}
	c.logger.Info("restore file downloaded", "cluster", clusterID, "object", f.Object, "bytes", n)
	return nil
}

// mergeFiles copies the keys of a restore's further files into the node that started from the first: a
// snapshot of several node groups restored into one node. It runs on every pass while the node is still
// creating; RESTORE … REPLACE makes a repeat (after a restart of ecache) harmless.
func (c *Controller) mergeFiles(ctx context.Context, cl *resource.Cluster, v engine.Version) error {
	node := c.directNode(cl) // the engine itself: what any client writes reaches a log through the primary's stream
	for _, f := range cl.MergeFiles {
		if err := c.downloadSeed(ctx, cl, f); err != nil {
			return err
		}
		start := time.Now()
		file, done, err := c.plainFile(filepath.Join(c.cfg.SnapshotDir, f.Path))
		if err != nil {
			return fmt.Errorf("merge %s into cluster %s: %w", f.Path, cl.ID, err)
		}
		n, err := c.engines.CopyKeys(ctx, v.Binary, file, node)
		done()
		if err != nil {
			return fmt.Errorf("merge %s into cluster %s: %w", f.Path, cl.ID, err)
		}
		c.logger.Info("restore file merged", "cluster", cl.ID, "file", f.Path, "keys", n, "took", time.Since(start))
	}
	return nil
}

// removeDownloads deletes the files downloaded for cl's restore once its node has loaded them; the
// garbage collector removes the emptied directory.
func (c *Controller) removeDownloads(cl *resource.Cluster) {
	for _, f := range cl.SeedFiles() {
		if f.Object != "" {
			_ = os.Remove(filepath.Join(c.cfg.SnapshotDir, f.Path))
		}
	}
}

// importDirs lists the directories of downloads for restores.
func (c *Controller) importDirs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(c.cfg.SnapshotDir, resource.ImportsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

// removeFinishedImports deletes the download directories dirs (listed before clusters was read) that no
// node of clusters still waits to start from.
func (c *Controller) removeFinishedImports(dirs []string, clusters []*resource.Cluster) error {
	needed := map[string]bool{}
	for _, cl := range clusters {
		if !cl.Loading() {
			continue
		}
		for _, f := range cl.SeedFiles() {
			if dir, ok := strings.CutPrefix(f.Path, resource.ImportsDir+"/"); ok && f.Object != "" {
				needed[strings.Split(dir, "/")[0]] = true
			}
		}
	}
	for _, name := range dirs {
		if !needed[name] {
			if err := os.RemoveAll(filepath.Join(c.cfg.SnapshotDir, resource.ImportsDir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}
