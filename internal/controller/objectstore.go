package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/rdb"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// importsDir holds the files downloaded from the object store for restores, a directory per restore.
const importsDir = "imports"

// exportSnapshot uploads each file of a snapshot being exported to its bucket, then makes the snapshot
// available again. A refusal (bucket gone, permission withdrawn) ends the export at once; other failures
// are retried a few times. Each upload is a single PUT, so an object appears whole or not at all, and an
// export cut short by a restart is done again.
func (c *Controller) exportSnapshot(ctx context.Context, key string, snap *resource.Snapshot) (bool, error) {
	exp := snap.Export
	err := errors.New("no object store is configured (--s3-endpoint)")
	if c.cfg.Objects != nil {
		err = nil
		for _, sh := range snap.Shards {
			objKey := snap.ExportKey(exp.Name, sh)
			if err = c.cfg.Objects.Upload(ctx, exp.Bucket, objKey, SnapshotFile(c.cfg.SnapshotDir, snap, sh), snap.ExportMetadata(sh)); err != nil {
				err = fmt.Errorf("%s: %w", objKey, err)
				break
			}
		}
	}
	if err != nil && ctx.Err() != nil {
		return false, nil
	}
	refused := c.cfg.Objects == nil || errors.Is(err, objectstore.ErrAccessDenied) || errors.Is(err, objectstore.ErrNoSuchBucket)
	if err != nil {
		c.logger.Warn("snapshot export failed", "snapshot", snap.Name, "bucket", exp.Bucket, "err", err)
	}
	retry := false
	now := c.cfg.Now().UTC()
	editErr := edit(ctx, c.store, resource.KindSnapshot, key, func(tx store.Tx, cur *resource.Snapshot, _ int64) (bool, error) {
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
		return true, clusterEvent(tx, now, 1, cur.Region, snapshotSourceCluster(cur), msg)
	})
	return retry, editErr
}

// snapshotSourceCluster is the cache cluster a snapshot's events are reported for.
func snapshotSourceCluster(snap *resource.Snapshot) string {
	if snap.CacheClusterID != "" || len(snap.Shards) == 0 {
		return snap.CacheClusterID
	}
	return snap.Shards[0].CacheClusterID
}

// downloadSeed fetches the object a restoring node loads to its path under the snapshot directory, unless
// the file is not an import or an earlier pass downloaded it.
func (c *Controller) downloadSeed(ctx context.Context, clusterID string, f resource.SeedFile) error {
	path := filepath.Join(c.cfg.SnapshotDir, f.Path)
	if f.Object == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if c.cfg.Objects == nil {
		return fmt.Errorf("cluster %s restores from %s, but no object store is configured (--s3-endpoint)", clusterID, f.Object)
	}
	bucket, objKey, _ := strings.Cut(f.Object, "/")
	n, err := writeAtomically(path, func(w io.Writer) (int64, error) { return c.cfg.Objects.Download(ctx, bucket, objKey, w) })
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
	node, err := c.engineNode(cl)
	if err != nil {
		return err
	}
	for _, f := range cl.MergeFiles {
		if err := c.downloadSeed(ctx, cl.ID, f); err != nil {
			return err
		}
		start := time.Now()
		n, err := rdb.CopyKeys(ctx, v.Binary, filepath.Join(c.cfg.SnapshotDir, f.Path), rdb.Node(node))
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
	for _, f := range append([]resource.SeedFile{{Path: cl.SeedSnapshot, Object: cl.SeedObject}}, cl.MergeFiles...) {
		if f.Object != "" {
			_ = os.Remove(filepath.Join(c.cfg.SnapshotDir, f.Path))
		}
	}
}

// removeFinishedImports deletes downloaded restore files once no node still waits to start from them. The
// directory is read before the clusters: a download only starts once its cluster is stored.
func (c *Controller) removeFinishedImports(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(c.cfg.SnapshotDir, importsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	clusters, err := c.store.List(ctx, resource.KindCluster)
	if err != nil {
		return err
	}
	needed := map[string]bool{}
	for _, o := range clusters {
		cl, err := resource.Unmarshal[resource.Cluster](o.Value)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(cl.Nodes, func(n resource.Node) bool { return n.Status == resource.NodeCreating }) {
			continue
		}
		for _, f := range append([]resource.SeedFile{{Path: cl.SeedSnapshot, Object: cl.SeedObject}}, cl.MergeFiles...) {
			if dir, ok := strings.CutPrefix(f.Path, importsDir+"/"); ok && f.Object != "" {
				needed[strings.Split(dir, "/")[0]] = true
			}
		}
	}
	for _, e := range entries {
		if !needed[e.Name()] {
			if err := os.RemoveAll(filepath.Join(c.cfg.SnapshotDir, importsDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
