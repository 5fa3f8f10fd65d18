package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ecache/ecache/internal/resource"
)

// Drained waits until every cluster, replication group and snapshot is gone from the store and no engine
// or log replica of a node is left (a reset: the service marked them all deleting), then removes what is
// left under the snapshot and durable directories. Idle warm engines stay: they hold no data.
func (c *Controller) Drained(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := c.leftOver(ctx)
		if err != nil {
			return err
		}
		if left == "" {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still %s: %w", left, ctx.Err())
		case <-tick.C:
		}
	}
	for _, dir := range []string{c.cfg.SnapshotDir, c.cfg.DurableDir} {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// leftOver names what a reset still waits for ("" when nothing is left).
func (c *Controller) leftOver(ctx context.Context) (string, error) {
	for _, kind := range []string{resource.KindCluster, resource.KindReplicationGroup, resource.KindSnapshot} {
		objs, err := c.store.List(ctx, kind)
		if err != nil {
			return "", err
		}
		if len(objs) > 0 {
			return fmt.Sprintf("%d %s records", len(objs), kind), nil
		}
	}
	nodes, err := c.driver.List(ctx)
	if err != nil {
		return "", err
	}
	if len(nodes) > 0 {
		return fmt.Sprintf("%d engines", len(nodes)), nil
	}
	return "", nil
}
