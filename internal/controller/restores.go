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
	"github.com/ecache/ecache/internal/rdb"
	"github.com/ecache/ecache/internal/resource"
)

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
	entries, err := os.ReadDir(filepath.Join(c.cfg.SnapshotDir, resource.ImportsDir))
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
			if dir, ok := strings.CutPrefix(f.Path, resource.ImportsDir+"/"); ok && f.Object != "" {
				needed[strings.Split(dir, "/")[0]] = true
			}
		}
	}
	for _, e := range entries {
		if !needed[e.Name()] {
			if err := os.RemoveAll(filepath.Join(c.cfg.SnapshotDir, resource.ImportsDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
