package service

import (
	"context"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Reset deletes everything of every region (a test suite's reset between tests): clusters, replication
// groups and snapshots are marked deleting, for the controller to stop their engines and remove their
// files; every other record (parameter, subnet and security groups, users, user groups, events) is
// deleted at once. It reports what it marked or deleted, by kind.
func (s *Service) Reset(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		clear(counts)
		if err := markAll[resource.Cluster](tx, resource.KindCluster, counts, func(c *resource.Cluster) bool {
			if c.Status == resource.StatusDeleting {
				return false
			}
			c.MarkDeleting()
			return true
		}); err != nil {
			return err
		}
		if err := markAll[resource.ReplicationGroup](tx, resource.KindReplicationGroup, counts, func(g *resource.ReplicationGroup) bool {
			return setStatus(&g.Status, resource.StatusDeleting)
		}); err != nil {
			return err
		}
		if err := markAll[resource.Snapshot](tx, resource.KindSnapshot, counts, func(sn *resource.Snapshot) bool {
			return setStatus(&sn.Status, resource.SnapshotDeleting)
		}); err != nil {
			return err
		}
		for _, kind := range []string{resource.KindParameterGroup, resource.KindSubnetGroup, resource.KindSecurityGroup,
			resource.KindUser, resource.KindUserGroup, resource.KindEvent} {
			objs, err := tx.List(kind)
			if err != nil {
				return err
			}
			for _, o := range objs {
				if err := tx.Delete(kind, o.Key, o.Revision); err != nil {
					return err
				}
				counts[kind]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, internal("reset", err)
	}
	return counts, nil
}

// markAll runs mark on every record of kind and writes back those it changed, counting them.
func markAll[T any](tx store.Tx, kind string, counts map[string]int, mark func(*T) bool) error {
	objs, err := tx.List(kind)
	if err != nil {
		return err
	}
	for _, o := range objs {
		v, err := resource.Unmarshal[T](o.Value)
		if err != nil {
			return err
		}
		counts[kind]++
		if !mark(v) {
			continue
		}
		if _, err := tx.Put(kind, o.Key, resource.Marshal(v), o.Revision); err != nil {
			return err
		}
	}
	return nil
}

func setStatus(status *string, to string) bool {
	if *status == to {
		return false
	}
	*status = to
	return true
}
