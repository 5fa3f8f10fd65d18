package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// updateGroup runs fn on a stored replication group that must be available, inside one transaction.
func (s *Service) updateGroup(ctx context.Context, rg, id string, fn func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error) (*resource.ReplicationGroup, error) {
	var out *resource.ReplicationGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		g, obj, err := getGroup(tx, rg, id)
		if err != nil {
			return err
		}
		if g.Status != resource.StatusAvailable {
			return api.InvalidReplicationGroupStateFault("Replication group %s is not in available state (it is %s).", g.ID, g.Status)
		}
		all, err := loadClusters(tx)
		if err != nil {
			return err
		}
		if err := fn(tx, g, all); err != nil {
			return err
		}
		out = g
		_, err = tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision)
		return err
	})
	if err != nil && !isFault(err) {
		return nil, internal("update replication group", err)
	}
	return out, err
}

// getGroup reads a replication group inside a transaction; a missing one is ReplicationGroupNotFoundFault.
func getGroup(tx store.Tx, rg, id string) (*resource.ReplicationGroup, store.Object, error) {
	obj, err := tx.Get(resource.KindReplicationGroup, resource.Key(rg, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, obj, api.ReplicationGroupNotFoundFault("ReplicationGroup %s not found", id)
	} else if err != nil {
		return nil, obj, err
	}
	g, err := resource.Unmarshal[resource.ReplicationGroup](obj.Value)
	return g, obj, err
}

// wantedReplicas reads the new replica count from NewReplicaCount or the ReplicaConfiguration of node group 0001.
func wantedReplicas(count *int32, shards []api.ConfigureShard) (int, []string, error) {
	if count != nil {
		return int(*count), nil, nil
	}
	for _, sh := range shards {
		if deref(sh.NodeGroupId) != "0001" {
			return 0, nil, api.NodeGroupNotFoundFault("NodeGroup %s not found.", deref(sh.NodeGroupId))
		}
		if sh.NewReplicaCount == nil {
			return 0, nil, api.InvalidParameterValueException("ReplicaConfiguration needs NewReplicaCount.")
		}
		return int(*sh.NewReplicaCount), sh.PreferredAvailabilityZones, nil
	}
	return -1, nil, nil
}

// nextMemberID is the next unused <group>-NNN member cluster id.
func nextMemberID(g *resource.ReplicationGroup, all []*resource.Cluster) string {
	for n := 1; ; n++ {
		id := fmt.Sprintf("%s-%03d", g.ID, n)
		taken := slices.Contains(g.MemberIDs(), id) || slices.ContainsFunc(all, func(c *resource.Cluster) bool { return c.Region == g.Region && c.ID == id })
		if !taken {
			return id
		}
	}
}

// addReplicas creates n replica member clusters in the group's node group.
func (s *Service) addReplicas(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster, ids, azs []string) error {
	if err := s.checkQuotas(all, g.Region, len(ids)); err != nil {
		return err
	}
	ports, err := s.allocatePorts(tx, portsPerMember(g)*len(ids))
	if err != nil {
		return err
	}
	version, err := s.resolveVersion(g.Engine, g.EngineVersion)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	for i, id := range ids {
		az := g.Region + "a"
		if i < len(azs) {
			az = azs[i]
		} else if g.MultiAZ {
			az = fmt.Sprintf("%s%c", g.Region, 'a'+(len(g.NodeGroups[0].Members)+i)%3)
		}
		if ports, err = createMember(tx, g, id, az, version, ports, now); err != nil {
			return err
		}
		g.NodeGroups[0].Members = append(g.NodeGroups[0].Members, resource.Member{ClusterID: id, Role: resource.RoleReplica})
	}
	g.Status, g.NodeGroups[0].Status = resource.StatusModifying, resource.StatusModifying
	return nil
}

// IncreaseReplicaCount adds replicas to the group's node group online.
func (s *Service) IncreaseReplicaCount(ctx context.Context, in *api.IncreaseReplicaCountMessage) (*api.IncreaseReplicaCountResult, error) {
	if !deref(in.ApplyImmediately) {
		return nil, api.InvalidParameterValueException("ApplyImmediately=false is not supported: replicas are added immediately.")
	}
	want, azs, err := wantedReplicas(in.NewReplicaCount, in.ReplicaConfiguration)
	if err != nil {
		return nil, err
	}
	if want < 0 {
		return nil, api.InvalidParameterValueException("Either NewReplicaCount or ReplicaConfiguration is required.")
	}
	g, err := s.updateGroup(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if g.ClusterEnabled {
			return errReplicaCountClusterMode(g)
		}
		current := len(g.NodeGroups[0].Members) - 1
		if want <= current || want > maxNodesPerShard-1 {
			return api.InvalidParameterValueException("NewReplicaCount must be more than the current %d replicas and at most 5.", current)
		}
		var ids []string
		for range want - current {
			id := nextMemberID(g, all)
			ids = append(ids, id)
			all = append(all, &resource.Cluster{Region: g.Region, ID: id})
		}
		return s.addReplicas(tx, g, all[:len(all)-len(ids)], ids, azs)
	})
	if err != nil {
		return nil, err
	}
	return &api.IncreaseReplicaCountResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// DecreaseReplicaCount removes replicas (the highest-numbered ones, or ReplicasToRemove) online.
func (s *Service) DecreaseReplicaCount(ctx context.Context, in *api.DecreaseReplicaCountMessage) (*api.DecreaseReplicaCountResult, error) {
	if !deref(in.ApplyImmediately) {
		return nil, api.InvalidParameterValueException("ApplyImmediately=false is not supported: replicas are removed immediately.")
	}
	want, _, err := wantedReplicas(in.NewReplicaCount, in.ReplicaConfiguration)
	if err != nil {
		return nil, err
	}
	if want < 0 && len(in.ReplicasToRemove) == 0 {
		return nil, api.InvalidParameterValueException("One of NewReplicaCount, ReplicaConfiguration or ReplicasToRemove is required.")
	}
	g, err := s.updateGroup(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if g.ClusterEnabled {
			return errReplicaCountClusterMode(g)
		}
		ng := &g.NodeGroups[0]
		primary := ng.Primary()
		var replicas []string
		for _, m := range ng.Members {
			if m.Role == resource.RoleReplica {
				replicas = append(replicas, m.ClusterID)
			}
		}
		remove := lowerAll(in.ReplicasToRemove)
		for _, id := range remove {
			if id == primary {
				return api.InvalidParameterValueException("Cache cluster %s is the primary of replication group %s and cannot be removed.", id, g.ID)
			}
			if !slices.Contains(replicas, id) {
				return api.InvalidParameterValueException("Cache cluster %s is not a replica of replication group %s.", id, g.ID)
			}
		}
		if want < 0 {
			want = len(replicas) - len(remove)
		} else if remove == nil {
			slices.SortFunc(replicas, func(a, b string) int { return memberNumber(b) - memberNumber(a) })
			if want < len(replicas) {
				remove = replicas[:len(replicas)-want]
			}
		}
		switch {
		case want < 0 || want >= len(replicas) || len(remove) != len(replicas)-want:
			return api.InvalidParameterValueException("NewReplicaCount must be less than the current %d replicas and match ReplicasToRemove.", len(replicas))
		case g.AutomaticFailover && want < 1:
			return api.InvalidParameterCombinationException("A replication group with automatic failover needs at least one replica.")
		}
		for _, id := range remove {
			obj, err := tx.Get(resource.KindCluster, resource.Key(g.Region, id))
			if err != nil {
				return err
			}
			c, err := resource.Unmarshal[resource.Cluster](obj.Value)
			if err != nil {
				return err
			}
			c.Status = resource.StatusDeleting
			for i := range c.Nodes {
				c.Nodes[i].Status = resource.NodeDeleting
			}
			if _, err := tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision); err != nil {
				return err
			}
			ng.Members = slices.DeleteFunc(ng.Members, func(m resource.Member) bool { return m.ClusterID == id })
		}
		g.Status, ng.Status = resource.StatusModifying, resource.StatusModifying
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DecreaseReplicaCountResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

func memberNumber(id string) int {
	i := strings.LastIndexByte(id, '-')
	n, _ := strconv.Atoi(id[i+1:])
	return n
}

// addReplicaCluster is CreateCacheCluster with a ReplicationGroupId: the new cluster joins the group as a
// replica and takes the group's engine, version, node type and settings.
func (s *Service) addReplicaCluster(ctx context.Context, in *api.CreateCacheClusterMessage) (*api.CreateCacheClusterResult, error) {
	id := strings.ToLower(deref(in.CacheClusterId))
	if err := validIdentifier("CacheClusterIdentifier", id, maxClusterIDLen); err != nil {
		return nil, err
	}
	if strings.EqualFold(deref(in.Engine), "memcached") {
		return nil, api.InvalidParameterCombinationException("ReplicationGroupId is only valid for the redis and valkey engines.")
	}
	rg := region(ctx)
	var created *resource.Cluster
	_, err := s.updateGroup(ctx, rg, strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if in.CacheNodeType != nil || in.EngineVersion != nil || in.CacheParameterGroupName != nil || deref(in.NumCacheNodes) > 1 ||
			in.SnapshotArns != nil || in.SnapshotName != nil || in.AuthToken != nil || in.TransitEncryptionEnabled != nil || in.AZMode != nil {
			return api.InvalidParameterCombinationException("Cannot specify additional cache cluster parameters when creating a replica cluster")
		}
		if in.Engine != nil && !strings.EqualFold(*in.Engine, g.Engine) {
			return api.InvalidParameterCombinationException("Engine %s does not match replication group %s (%s).", *in.Engine, g.ID, g.Engine)
		}
		if g.ClusterEnabled {
			return api.InvalidParameterCombinationException("Replication group %s has cluster mode enabled: a cache cluster cannot join one of its shards.", g.ID)
		}
		if slices.ContainsFunc(all, func(c *resource.Cluster) bool { return c.Region == rg && c.ID == id }) {
			return api.CacheClusterAlreadyExistsFault("Cache cluster %s already exists.", id)
		}
		if len(g.NodeGroups[0].Members) >= maxNodesPerShard {
			return api.NodeQuotaForClusterExceededFault("Cluster node quota exceeded. Each node group can have at most %d nodes.", maxNodesPerShard)
		}
		var azs []string
		if in.PreferredAvailabilityZone != nil {
			azs = []string{*in.PreferredAvailabilityZone}
		}
		if err := s.addReplicas(tx, g, all, []string{id}, azs); err != nil {
			return err
		}
		obj, err := tx.Get(resource.KindCluster, resource.Key(rg, id))
		if err != nil {
			return err
		}
		created, err = resource.Unmarshal[resource.Cluster](obj.Value)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateCacheClusterResult{CacheCluster: s.renderCluster(created, true)}, nil
}

// ModifyReplicationGroup changes a cluster-mode-disabled group: group settings (description, automatic
// failover, Multi-AZ, primary, durability) directly, node settings (node type, engine version, parameter
// group, AUTH token, windows …) on every member cluster with the cache-cluster rules, all in one transaction.
func (s *Service) ModifyReplicationGroup(ctx context.Context, in *api.ModifyReplicationGroupMessage) (*api.ModifyReplicationGroupResult, error) {
	g, err := s.updateGroup(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		switch {
		case in.ClusterMode != nil && *in.ClusterMode != g.ClusterMode:
			return api.InvalidParameterCombinationException("Changing ClusterMode is not available on this ecache host yet.")
		case in.TransitEncryptionEnabled != nil && *in.TransitEncryptionEnabled != g.TransitEncryption, in.TransitEncryptionMode != nil:
			return api.InvalidParameterCombinationException("Changing in-transit encryption of an existing replication group is not available on this ecache host yet.")
		case len(in.UserGroupIdsToAdd) > 0:
			return api.UserGroupNotFoundFault("User group %s not found.", in.UserGroupIdsToAdd[0])
		case in.Engine != nil && !strings.EqualFold(*in.Engine, g.Engine):
			return api.InvalidParameterCombinationException("Changing the engine of replication group %s from %s to %s is not supported.", g.ID, g.Engine, *in.Engine)
		case g.ClusterEnabled && in.PrimaryClusterId != nil:
			return api.InvalidParameterCombinationException("PrimaryClusterId applies to cluster mode disabled replication groups; use TestFailover for a shard of %s.", g.ID)
		case g.ClusterEnabled && in.AutomaticFailoverEnabled != nil && !*in.AutomaticFailoverEnabled:
			return api.InvalidParameterCombinationException("AutomaticFailoverEnabled must be enabled for Valkey or Redis OSS (cluster mode enabled) replication groups.")
		}
		ng := &g.NodeGroups[0]
		if in.ReplicationGroupDescription != nil {
			if strings.TrimSpace(*in.ReplicationGroupDescription) == "" {
				return api.InvalidParameterValueException("ReplicationGroupDescription must not be blank.")
			}
			g.Description = *in.ReplicationGroupDescription
		}
		failover, multiAZ := g.AutomaticFailover, g.MultiAZ
		if in.AutomaticFailoverEnabled != nil {
			failover = *in.AutomaticFailoverEnabled
		}
		if in.MultiAZEnabled != nil {
			multiAZ = *in.MultiAZEnabled
		}
		switch {
		case multiAZ && !failover:
			return api.InvalidParameterCombinationException("Multi-AZ requires automatic failover to be enabled.")
		case failover && len(ng.Members) < 2 && !g.ClusterEnabled:
			return api.InvalidParameterCombinationException("Automatic failover requires at least two cache clusters: a primary and a replica.")
		}
		g.AutomaticFailover, g.MultiAZ = failover, multiAZ
		if d := deref(in.Durability); d != "" {
			if d != "default" && d != "disabled" {
				return api.InvalidParameterCombinationException("Durability %s needs the Multi-AZ transaction log, which this ecache host does not provide yet.", d)
			}
			g.Durability = d
		}
		if pid := strings.ToLower(deref(in.PrimaryClusterId)); pid != "" && pid != ng.Primary() {
			if !slices.Contains(g.MemberIDs(), pid) {
				return api.InvalidParameterValueException("Cache cluster %s is not a member of replication group %s.", pid, g.ID)
			}
			g.Failover = &resource.Failover{NodeGroupID: ng.ID, From: ng.Primary(), Target: pid, StartedAt: s.now().UTC()}
			g.Status = resource.StatusModifying
		}
		if id := strings.ToLower(deref(in.SnapshottingClusterId)); id != "" && !slices.Contains(g.MemberIDs(), id) {
			return api.InvalidParameterValueException("Cache cluster %s is not a member of replication group %s.", id, g.ID)
		}
		// Node settings go to every member with the cache-cluster rules.
		mod := &api.ModifyCacheClusterMessage{
			ApplyImmediately: in.ApplyImmediately, AuthToken: in.AuthToken, AuthTokenUpdateStrategy: in.AuthTokenUpdateStrategy,
			AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade, CacheNodeType: in.CacheNodeType, CacheParameterGroupName: in.CacheParameterGroupName,
			EngineVersion: in.EngineVersion, NotificationTopicArn: in.NotificationTopicArn, NotificationTopicStatus: in.NotificationTopicStatus,
			PreferredMaintenanceWindow: in.PreferredMaintenanceWindow, SecurityGroupIds: in.SecurityGroupIds,
			SnapshotRetentionLimit: in.SnapshotRetentionLimit, SnapshotWindow: in.SnapshotWindow, LogDeliveryConfigurations: in.LogDeliveryConfigurations,
		}
		for _, id := range g.MemberIDs() {
			obj, err := tx.Get(resource.KindCluster, resource.Key(g.Region, id))
			if err != nil {
				return err
			}
			c, err := resource.Unmarshal[resource.Cluster](obj.Value)
			if err != nil {
				return err
			}
			if c.Status != resource.StatusAvailable {
				return api.InvalidCacheClusterStateFault("Cache cluster %s of replication group %s is not in available state (it is %s).", c.ID, g.ID, c.Status)
			}
			if err := s.modifyCluster(tx, c, mod); err != nil {
				return err
			}
			if c.Status == resource.StatusModifying {
				g.Status = resource.StatusModifying
			}
			g.NodeType, g.EngineVersion, g.ParameterGroup = c.NodeType, c.EngineVersion, c.ParameterGroup
			g.MaintenanceWindow, g.SnapshotWindow, g.SnapshotRetentionLimit = c.MaintenanceWindow, c.SnapshotWindow, c.SnapshotRetentionLimit
			g.AuthToken, g.AuthTokenUpdatedAt, g.AutoMinorVersionUpgrade = c.AuthToken, c.AuthTokenUpdatedAt, c.AutoMinorVersionUpgrade
			g.NotificationTopicARN, g.SecurityGroupIDs = c.NotificationTopicARN, c.SecurityGroupIDs
			if _, err := tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.ModifyReplicationGroupResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// errReplicaCountClusterMode refuses replica changes of cluster mode enabled groups, which this host does
// not do yet.
func errReplicaCountClusterMode(g *resource.ReplicationGroup) error {
	return api.InvalidParameterCombinationException("Changing the replica count of cluster mode enabled replication group %s is not available on this ecache host yet.", g.ID)
}
