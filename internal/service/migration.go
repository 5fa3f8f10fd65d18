package service

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// StartMigration begins an online migration into a cluster mode disabled replication group: its primary
// replicates from the one Valkey or Redis OSS server named (the controller makes it a replica of it) and the
// group shows migrating until CompleteMigration. As on ElastiCache the group must be available, without
// in-transit encryption and with Multi-AZ.
func (s *Service) StartMigration(ctx context.Context, in *api.StartMigrationMessage) (*api.StartMigrationResponse, error) {
	if in.ServerlessCacheName != nil {
		return nil, api.InvalidParameterCombinationException("Migration into a serverless cache is not available on this ecache host.")
	}
	source, err := migrationSource(in.CustomerNodeEndpointList)
	if err != nil {
		return nil, err
	}
	out, err := s.updateGroupWhen(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), migratable, func(tx store.Tx, g *resource.ReplicationGroup, _ []*resource.Cluster) error {
		now := s.now().UTC()
		g.Migration = &resource.Migration{Source: source, StartedAt: now}
		g.Status = resource.StatusMigrating
		return resource.AddEvent(tx, now, 0, g.Region, resource.SourceReplicationGroup, g.ID, "Migration started: the primary replicates from "+source)
	})
	if err != nil {
		return nil, err
	}
	return &api.StartMigrationResponse{ReplicationGroup: s.renderReplicationGroup(ctx, out)}, nil
}

// CompleteMigration ends a migration: the group's primary stops replicating from the source once it has
// everything the source has (at once with Force) and the group is available again for writes.
func (s *Service) CompleteMigration(ctx context.Context, in *api.CompleteMigrationMessage) (*api.CompleteMigrationResponse, error) {
	if in.ServerlessCacheName != nil {
		return nil, api.InvalidParameterCombinationException("Migration into a serverless cache is not available on this ecache host.")
	}
	notMigrating := func(g *resource.ReplicationGroup, _ []*resource.Cluster) error {
		if g.Migration == nil {
			return api.ReplicationGroupNotUnderMigrationFault("Replication group %s is not under migration.", g.ID)
		}
		return nil
	}
	out, err := s.updateGroupWhen(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), notMigrating, func(tx store.Tx, g *resource.ReplicationGroup, _ []*resource.Cluster) error {
		g.Migration.Complete = true
		g.Migration.Force = g.Migration.Force || deref(in.Force)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CompleteMigrationResponse{ReplicationGroup: s.renderReplicationGroup(ctx, out)}, nil
}

// TestMigration checks, without moving data, that a migration from the one endpoint named could start: the
// service checks the group as StartMigration does, and the controller then tries the source (it answers,
// without a password, as a primary or a replica) and records the outcome as an event.
func (s *Service) TestMigration(ctx context.Context, in *api.TestMigrationMessage) (*api.TestMigrationResponse, error) {
	source, err := migrationSource(in.CustomerNodeEndpointList)
	if err != nil {
		return nil, err
	}
	out, err := s.updateGroupWhen(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), migratable, func(tx store.Tx, g *resource.ReplicationGroup, _ []*resource.Cluster) error {
		g.MigrationTest = source
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.TestMigrationResponse{ReplicationGroup: s.renderReplicationGroup(ctx, out)}, nil
}

// migratable refuses a migration (or its test) into a group that is already under one, is not available, or
// does not meet ElastiCache's requirements.
func migratable(g *resource.ReplicationGroup, _ []*resource.Cluster) error {
	if g.Migration != nil {
		return api.ReplicationGroupAlreadyUnderMigrationFault("Replication group %s is already under migration.", g.ID)
	}
	if err := groupAvailable(g); err != nil {
		return err
	}
	switch {
	case g.ClusterEnabled:
		return api.InvalidParameterValueException("Online migration into a cluster mode enabled replication group is not available on this ecache host yet.")
	case g.TransitEncryption:
		return api.InvalidParameterValueException("Replication group %s has in-transit encryption enabled; online migration requires it disabled.", g.ID)
	case !g.MultiAZ:
		return api.InvalidParameterValueException("Replication group %s does not have Multi-AZ enabled; online migration requires it.", g.ID)
	case g.Durable():
		return api.InvalidParameterCombinationException("Replication group %s has durability %s; online migration replicates from a server outside it, which its transaction log cannot vouch for.", g.ID, g.Durability)
	}
	return nil
}

// migrationSource is the host:port of CustomerNodeEndpointList's one endpoint.
func migrationSource(list []api.CustomerNodeEndpoint) (string, error) {
	if len(list) != 1 {
		return "", api.InvalidParameterValueException("CustomerNodeEndpointList must hold exactly one endpoint, not %d.", len(list))
	}
	host, port := strings.TrimSpace(deref(list[0].Address)), deref(list[0].Port)
	if host == "" || strings.ContainsAny(host, " /") {
		return "", api.InvalidParameterValueException("The endpoint's Address must be a DNS name or an IP address.")
	}
	if port < 1 || port > 65535 {
		return "", api.InvalidParameterValueException("The endpoint's Port must be between 1 and 65535.")
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}
