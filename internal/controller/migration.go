package controller

import (
	"context"
	"fmt"
	"time"

	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
)

// followSource runs an online migration into group g (cluster mode disabled, one node group sh): its primary
// replicates from the migration's source, and the group's replicas from the primary, as usual. Once
// CompleteMigration asked, and the primary has everything the source has (or at once with Force), the
// primary stops replicating and the migration ends; it reports whether it did.
func (c *Controller) followSource(ctx context.Context, key string, g *resource.ReplicationGroup, sh shard) (ended bool, err error) {
	m, primary := g.Migration, sh.primary
	if !primary.running {
		return false, nil // the cluster reconciler starts it again; it then follows the source again
	}
	source := resp.Node{Addr: m.Source}
	st, err := c.engines.Inspect(ctx, primary.node)
	if err != nil {
		return false, nil
	}
	following := st.Role == replication.RoleReplica && st.MasterAddr == m.Source
	if m.Complete && (m.Force || following && c.caughtUp(ctx, st, source)) {
		var others []resp.Node
		for _, r := range sh.replicas {
			if r.running {
				others = append(others, r.node)
			}
		}
		if err := c.engines.Promote(ctx, primary.node, nil, others); err != nil {
			return false, fmt.Errorf("completing the migration into %s: %w", g.ID, err)
		}
		return true, c.endMigration(ctx, key, g)
	}
	if !following {
		if err := c.engines.Attach(ctx, primary.node, source); err != nil {
			c.logger.Warn("migration: the primary cannot follow its source", "group", g.ID, "source", m.Source, "err", err)
		}
	}
	return false, c.noteSourceLink(ctx, key, g, following && st.LinkUp && !st.SyncInProgress)
}

// caughtUp reports whether a primary whose replication state is st has everything source has written: its
// link is up, no sync runs, and its offset has reached the source's.
func (c *Controller) caughtUp(ctx context.Context, st replication.State, source resp.Node) bool {
	if !st.LinkUp || st.SyncInProgress {
		return false
	}
	src, err := c.engines.Inspect(ctx, source)
	return err == nil && st.Offset >= src.Offset
}

// noteSourceLink records whether the primary's link to the source is up, with an event when that changes.
func (c *Controller) noteSourceLink(ctx context.Context, key string, g *resource.ReplicationGroup, up bool) error {
	if g.Migration.LinkUp == up {
		return nil
	}
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		if cur.Migration == nil || cur.Migration.LinkUp == up {
			return false, nil
		}
		cur.Migration.LinkUp = up
		msg := "Migration: the primary is in sync with " + cur.Migration.Source
		if !up {
			msg = "Migration: the primary's replication link to " + cur.Migration.Source + " is down"
		}
		return true, resource.AddEvent(tx, now, 0, cur.Region, resource.SourceReplicationGroup, cur.ID, msg)
	})
}

// endMigration forgets the migration; the group becomes available once its replicas follow the primary.
func (c *Controller) endMigration(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		if cur.Migration == nil {
			return false, nil
		}
		msg := "Migration completed: the primary no longer replicates from " + cur.Migration.Source
		if cur.Migration.Force {
			msg += " (forced)"
		}
		cur.Migration = nil
		return true, resource.AddEvent(tx, now, 0, cur.Region, resource.SourceReplicationGroup, cur.ID, msg)
	})
}

// tryMigrationSource answers TestMigration: it reads the replication state of the source named, as the
// group's primary would reach it, and records the outcome as an event.
func (c *Controller) tryMigrationSource(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	source := g.MigrationTest
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := c.engines.Inspect(tctx, resp.Node{Addr: source})
	cancel()
	role := "primary"
	if st.Role == replication.RoleReplica {
		role = "replica"
	}
	msg := fmt.Sprintf("Migration test succeeded: %s answers without a password, as a %s", source, role)
	if err != nil {
		msg = fmt.Sprintf("Migration test failed: %s cannot be replicated from: %v", source, err)
	}
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, cur *resource.ReplicationGroup, _ int64) (bool, error) {
		if cur.MigrationTest != source {
			return false, nil
		}
		cur.MigrationTest = ""
		return true, resource.AddEvent(tx, now, 0, cur.Region, resource.SourceReplicationGroup, cur.ID, msg)
	})
}
