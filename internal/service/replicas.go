package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// updateGroup runs fn on a stored replication group that must be available, inside one transaction; all
// are the cache clusters of every region.
func (s *Service) updateGroup(ctx context.Context, rg, id string, fn func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error) (*resource.ReplicationGroup, error) {
	available := func(g *resource.ReplicationGroup, _ []*resource.Cluster) error { return groupAvailable(g) }
	return s.updateGroupWhen(ctx, rg, id, available, fn)
}

// updateGroupWhen is updateGroup for a group that ready lets through instead of an available one.
func (s *Service) updateGroupWhen(ctx context.Context, rg, id string, ready func(g *resource.ReplicationGroup, all []*resource.Cluster) error,
	fn func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error) (*resource.ReplicationGroup, error) {
	var out *resource.ReplicationGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		g, obj, err := getGroup(tx, rg, id)
		if err != nil {
			return err
		}
		all, err := loadClusters(tx)
		if err != nil {
			return err
		}
		if err := ready(g, all); err != nil {
			return err
		}
		if err := fn(tx, g, all); err != nil {
			return err
		}
		out = g
		_, err = tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision)
		return err
	})
	if err != nil && !api.IsFault(err) {
		return nil, internal("update replication group", err)
	}
	return out, err
}

// getGroup reads a replication group inside a transaction; a missing one is ReplicationGroupNotFoundFault.
func getGroup(tx store.Tx, rg, id string) (*resource.ReplicationGroup, store.Object, error) {
	return getRecord[resource.ReplicationGroup](tx, resource.KindReplicationGroup, resource.Key(rg, id), func() error {
		return api.ReplicationGroupNotFoundFault("ReplicationGroup %s not found", id)
	})
}

// replicaChange is the replica count one node group should end with, and the Availability Zones of all of
// its nodes (primary first) when the request gives them.
type replicaChange struct {
	nodeGroup string
	want      int
	azs       []string
}

// replicaChanges reads NewReplicaCount (every node group) or ReplicaConfiguration (the node groups listed).
func replicaChanges(g *resource.ReplicationGroup, count *int32, shards []api.ConfigureShard) ([]replicaChange, error) {
	if count != nil && len(shards) > 0 {
		return nil, api.InvalidParameterCombinationException("Specify either NewReplicaCount or ReplicaConfiguration, not both.")
	}
	var out []replicaChange
	if count != nil {
		for _, ng := range g.NodeGroups {
			out = append(out, replicaChange{nodeGroup: ng.ID, want: int(*count)})
		}
	}
	for _, sh := range shards {
		id := deref(sh.NodeGroupId)
		if g.NodeGroup(id) == nil {
			return nil, api.NodeGroupNotFoundFault("NodeGroup %s not found in replication group %s.", id, g.ID)
		}
		if slices.ContainsFunc(out, func(ch replicaChange) bool { return ch.nodeGroup == id }) {
			return nil, api.InvalidParameterValueException("Node group %s is listed more than once in ReplicaConfiguration.", id)
		}
		ch := replicaChange{nodeGroup: id, want: int(deref(sh.NewReplicaCount)), azs: sh.PreferredAvailabilityZones}
		if len(ch.azs) > 0 && len(ch.azs) != ch.want+1 {
			return nil, api.InvalidParameterValueException("ReplicaConfiguration for node group %s needs %d PreferredAvailabilityZones: one per replica and one for the primary.", id, ch.want+1)
		}
		for _, az := range ch.azs {
			if !validAZ(g.Region, az) {
				return nil, api.InvalidParameterValueException("Invalid Availability Zone %q for region %s.", az, g.Region)
			}
		}
		out = append(out, ch)
	}
	for _, ch := range out {
		if ch.want < 0 || ch.want > maxNodesPerShard-1 {
			return nil, api.InvalidParameterValueException("NewReplicaCount must be between 0 and %d, got %d.", maxNodesPerShard-1, ch.want)
		}
	}
	return out, nil
}

// replicasOf lists a node group's replica member clusters.
func replicasOf(ng *resource.NodeGroup) []string {
	var out []string
	for _, m := range ng.Members {
		if m.Role == resource.RoleReplica {
			out = append(out, m.ClusterID)
		}
	}
	return out
}

// nextMemberID is the next unused member cluster id of a node group: <group>-NNN with cluster mode disabled,
// <group>-<node group>-NNN with it enabled.
func nextMemberID(g *resource.ReplicationGroup, nodeGroup string, all []*resource.Cluster) string {
	prefix := g.ID
	if g.ClusterEnabled {
		prefix += "-" + nodeGroup
	}
	for n := 1; ; n++ {
		id := fmt.Sprintf("%s-%03d", prefix, n)
		taken := slices.Contains(g.MemberIDs(), id) || slices.ContainsFunc(all, func(c *resource.Cluster) bool { return c.Region == g.Region && c.ID == id })
		if !taken {
			return id
		}
	}
}

// newReplica is a replica member cluster to create in a node group.
type newReplica struct{ nodeGroup, id, az string }

// addReplicas creates replica member clusters in their node groups; the group turns modifying and the
// controller brings each one into its shard.
func (s *Service) addReplicas(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster, adds []newReplica) error {
	if err := s.checkQuotas(all, g.Region, len(adds)); err != nil {
		return err
	}
	batch, err := s.newMemberBatch(tx, g, len(adds))
	if err != nil {
		return err
	}
	for _, a := range adds {
		if err := batch.create(a.id, a.az); err != nil {
			return err
		}
		ng := g.NodeGroup(a.nodeGroup)
		ng.Members = append(ng.Members, resource.Member{ClusterID: a.id, Role: resource.RoleReplica})
		ng.Status = resource.StatusModifying
	}
	g.Status = resource.StatusModifying
	return nil
}

// errNoReplicaChange is ElastiCache's answer to a replica count that is already the current one.
func errNoReplicaChange() error {
	return api.NoOperationFault("Requested new replica count already matches current number of replicas.")
}

// replicaRequest is what IncreaseReplicaCount and DecreaseReplicaCount share; done says what happens to
// replicas ("added", "removed"); empty says that the request names no change, refused with message missing.
type replicaRequest struct {
	groupID          *string
	count            *int32
	shards           []api.ConfigureShard
	applyImmediately *bool
	done             string
	empty            bool
	missing          string
}

// changeReplicas runs fn on an available group that is not cluster mode compatible, with the count of
// replicas the request asks for in each node group.
func (s *Service) changeReplicas(ctx context.Context, req replicaRequest, fn func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster, changes []replicaChange) error) (*resource.ReplicationGroup, error) {
	if !deref(req.applyImmediately) {
		return nil, api.InvalidParameterValueException("ApplyImmediately=false is not supported: replicas are %s immediately.", req.done)
	}
	if req.empty {
		return nil, api.InvalidParameterValueException("%s", req.missing)
	}
	return s.updateGroup(ctx, region(ctx), strings.ToLower(deref(req.groupID)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if g.ClusterMode == clusterModeCompatible {
			return errCompatible(g)
		}
		changes, err := replicaChanges(g, req.count, req.shards)
		if err != nil {
			return err
		}
		return fn(tx, g, all, changes)
	})
}

// IncreaseReplicaCount adds replicas online: to the one node group of a cluster mode disabled group, to
// every node group (NewReplicaCount) or to the listed ones (ReplicaConfiguration) of a cluster mode
// enabled group.
func (s *Service) IncreaseReplicaCount(ctx context.Context, in *api.IncreaseReplicaCountMessage) (*api.IncreaseReplicaCountResult, error) {
	req := replicaRequest{in.ReplicationGroupId, in.NewReplicaCount, in.ReplicaConfiguration, in.ApplyImmediately, "added",
		in.NewReplicaCount == nil && len(in.ReplicaConfiguration) == 0, "Either NewReplicaCount or ReplicaConfiguration is required."}
	g, err := s.changeReplicas(ctx, req, func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster, changes []replicaChange) error {
		at, err := s.placement(tx, g.Region, g.SubnetGroup)
		if err != nil {
			return err
		}
		var adds []newReplica
		for _, ch := range changes {
			ng := g.NodeGroup(ch.nodeGroup)
			current := len(replicasOf(ng))
			if ch.want < current {
				return api.InvalidParameterValueException("NewReplicaCount %d for node group %s is less than its current %d replicas; use DecreaseReplicaCount.", ch.want, ng.ID, current)
			}
			for i := current; i < ch.want; i++ {
				id := nextMemberID(g, ng.ID, all)
				all = append(all, &resource.Cluster{Region: g.Region, ID: id})
				az, err := at.memberAZ(ch.azs, 1+i, g.MultiAZ)
				if err != nil {
					return err
				}
				adds = append(adds, newReplica{nodeGroup: ng.ID, id: id, az: az})
			}
		}
		if len(adds) == 0 {
			return errNoReplicaChange()
		}
		if nodes := len(g.MemberIDs()) + len(adds); g.ClusterEnabled && nodes > s.cfg.Quotas.NodesPerGroup {
			return api.NodeQuotaForClusterExceededFault("Cluster node quota exceeded: %d nodes would exceed the quota of %d nodes per cluster.", nodes, s.cfg.Quotas.NodesPerGroup)
		}
		return s.addReplicas(tx, g, all[:len(all)-len(adds)], adds)
	})
	if err != nil {
		return nil, err
	}
	return &api.IncreaseReplicaCountResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// DecreaseReplicaCount removes replicas online: the ones named in ReplicasToRemove, or else the
// highest-numbered ones, down to NewReplicaCount (every node group) or the counts of ReplicaConfiguration.
func (s *Service) DecreaseReplicaCount(ctx context.Context, in *api.DecreaseReplicaCountMessage) (*api.DecreaseReplicaCountResult, error) {
	req := replicaRequest{in.ReplicationGroupId, in.NewReplicaCount, in.ReplicaConfiguration, in.ApplyImmediately, "removed",
		in.NewReplicaCount == nil && len(in.ReplicaConfiguration) == 0 && len(in.ReplicasToRemove) == 0,
		"One of NewReplicaCount, ReplicaConfiguration or ReplicasToRemove is required."}
	g, err := s.changeReplicas(ctx, req, func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster, changes []replicaChange) error {
		// The node group of each replica named for removal.
		named := map[string][]string{}
		for _, id := range lowerAll(in.ReplicasToRemove) {
			i := slices.IndexFunc(g.NodeGroups, func(ng resource.NodeGroup) bool { return slices.Contains(replicasOf(&ng), id) })
			switch {
			case slices.ContainsFunc(g.NodeGroups, func(ng resource.NodeGroup) bool { return ng.Primary() == id }):
				return api.InvalidParameterValueException("Cache cluster %s is the primary of its node group in replication group %s and cannot be removed.", id, g.ID)
			case i < 0:
				return api.InvalidParameterValueException("Cache cluster %s is not a replica of replication group %s.", id, g.ID)
			case slices.Contains(named[g.NodeGroups[i].ID], id):
				return api.InvalidParameterValueException("Cache cluster %s is listed more than once in ReplicasToRemove.", id)
			}
			named[g.NodeGroups[i].ID] = append(named[g.NodeGroups[i].ID], id)
		}
		want := map[string]int{}
		for _, ch := range changes {
			want[ch.nodeGroup] = ch.want
		}
		removed := 0
		for i := range g.NodeGroups {
			ng := &g.NodeGroups[i]
			replicas := replicasOf(ng)
			w, ok := want[ng.ID]
			if !ok {
				w = len(replicas) - len(named[ng.ID])
			}
			remove := named[ng.ID]
			switch {
			case w > len(replicas):
				return api.InvalidParameterValueException("NewReplicaCount %d for node group %s is more than its current %d replicas; use IncreaseReplicaCount.", w, ng.ID, len(replicas))
			case w < 1 && !g.ClusterEnabled && (g.AutomaticFailover || g.MultiAZ):
				return api.InvalidParameterCombinationException("A replication group with automatic failover needs at least one replica.")
			case w < 1 && g.Durable():
				return api.InvalidParameterCombinationException("Durability %s requires at least one replica in every node group (node group %s would have none).", g.Durability, ng.ID)
			case len(remove) == 0:
				slices.SortFunc(replicas, func(a, b string) int { return memberNumber(b) - memberNumber(a) })
				remove = replicas[:len(replicas)-w]
			case len(remove) != len(replicas)-w:
				return api.InvalidParameterValueException("ReplicasToRemove names %d replicas of node group %s, but going from %d to %d replicas removes %d.", len(remove), ng.ID, len(replicas), w, len(replicas)-w)
			}
			for _, id := range remove {
				if err := markMemberDeleting(tx, g.Region, id); err != nil {
					return err
				}
				ng.Members = slices.DeleteFunc(ng.Members, func(m resource.Member) bool { return m.ClusterID == id })
				ng.Status = resource.StatusModifying
				removed++
			}
		}
		if removed == 0 {
			return errNoReplicaChange()
		}
		g.Status = resource.StatusModifying
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DecreaseReplicaCountResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// updateMembers runs fn on each member cluster of g, which must be available, and stores the result.
func updateMembers(tx store.Tx, g *resource.ReplicationGroup, fn func(c *resource.Cluster) error) error {
	for _, id := range g.MemberIDs() {
		obj, err := tx.Get(resource.KindCluster, resource.Key(g.Region, id))
		if err != nil {
			return err
		}
		c, err := resource.Unmarshal[resource.Cluster](obj.Value)
		if err != nil {
			return err
		}
		if st := clusterStatus(c); st != resource.StatusAvailable {
			return api.InvalidCacheClusterStateFault("Cache cluster %s of replication group %s is not in available state (it is %s).", c.ID, g.ID, st)
		}
		if err := fn(c); err != nil {
			return err
		}
		if _, err := tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision); err != nil {
			return err
		}
	}
	return nil
}

// markMemberDeleting turns a member cluster and its nodes to deleting; the controller stops its engine.
func markMemberDeleting(tx store.Tx, rg, id string) error {
	obj, err := tx.Get(resource.KindCluster, resource.Key(rg, id))
	if err != nil {
		return err
	}
	c, err := resource.Unmarshal[resource.Cluster](obj.Value)
	if err != nil {
		return err
	}
	c.MarkDeleting()
	_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision)
	return err
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
		if given := groupSettingsGiven(in); len(given) > 0 {
			return api.InvalidParameterCombinationException("Cannot specify additional cache cluster parameters when creating a replica cluster: the replication group sets %s.",
				strings.Join(given, ", "))
		}
		tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
		if err != nil {
			return err
		}
		topic, err := s.validTopic(in.NotificationTopicArn)
		if err != nil {
			return err
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
		ng := &g.NodeGroups[0]
		at, err := s.placement(tx, rg, g.SubnetGroup)
		if err != nil {
			return err
		}
		az, err := at.memberAZ(nil, len(ng.Members), g.MultiAZ)
		if in.PreferredAvailabilityZone != nil {
			az, err = at.memberAZ([]string{*in.PreferredAvailabilityZone}, 0, false)
		}
		if err != nil {
			return err
		}
		if err := s.addReplicas(tx, g, all, []newReplica{{nodeGroup: ng.ID, id: id, az: az}}); err != nil {
			return err
		}
		obj, err := tx.Get(resource.KindCluster, resource.Key(rg, id))
		if err != nil {
			return err
		}
		if created, err = resource.Unmarshal[resource.Cluster](obj.Value); err != nil {
			return err
		}
		created.Tags = tags
		if topic != "" {
			created.NotificationTopicARN, created.NotificationTopicStatus = topic, "active"
		}
		_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(created), obj.Revision)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateCacheClusterResult{CacheCluster: s.renderCluster(created, true)}, nil
}

// groupSettingsGiven names the members of a CreateCacheCluster that joins a replication group which set
// what the group decides for all its members: only the id, the group, the engine (which must match), the
// Availability Zone, tags and a notification topic are the new cluster's own.
func groupSettingsGiven(in *api.CreateCacheClusterMessage) []string {
	var given []string
	for name, set := range map[string]bool{
		"AZMode": in.AZMode != nil, "AuthToken": in.AuthToken != nil, "AutoMinorVersionUpgrade": in.AutoMinorVersionUpgrade != nil,
		"CacheNodeType": in.CacheNodeType != nil, "CacheParameterGroupName": in.CacheParameterGroupName != nil,
		"CacheSecurityGroupNames": in.CacheSecurityGroupNames != nil, "CacheSubnetGroupName": in.CacheSubnetGroupName != nil,
		"EngineVersion": in.EngineVersion != nil, "IpDiscovery": in.IpDiscovery != nil,
		"LogDeliveryConfigurations": in.LogDeliveryConfigurations != nil, "NetworkType": in.NetworkType != nil,
		"NumCacheNodes": deref(in.NumCacheNodes) > 1, "OutpostMode": in.OutpostMode != nil, "Port": in.Port != nil,
		"PreferredAvailabilityZones": in.PreferredAvailabilityZones != nil, "PreferredMaintenanceWindow": in.PreferredMaintenanceWindow != nil,
		"PreferredOutpostArn": in.PreferredOutpostArn != nil, "PreferredOutpostArns": in.PreferredOutpostArns != nil,
		"SecurityGroupIds": in.SecurityGroupIds != nil, "SnapshotArns": in.SnapshotArns != nil, "SnapshotName": in.SnapshotName != nil,
		"SnapshotRetentionLimit": in.SnapshotRetentionLimit != nil, "SnapshotWindow": in.SnapshotWindow != nil,
		"TransitEncryptionEnabled": in.TransitEncryptionEnabled != nil,
	} {
		if set {
			given = append(given, name)
		}
	}
	slices.Sort(given)
	return given
}

// modifyPrimary moves the primary role of a cluster mode disabled group to member id (nil: none asked for):
// a planned promotion now with ApplyImmediately (which also starts one left pending), else in the group's
// maintenance window.
func (s *Service) modifyPrimary(g *resource.ReplicationGroup, ng *resource.NodeGroup, id *string, now bool) error {
	pid := strings.ToLower(deref(id))
	if pid == "" && now {
		pid = g.PendingPrimary
	}
	if pid == "" || pid == ng.Primary() {
		return nil
	}
	if !slices.Contains(g.MemberIDs(), pid) {
		return api.InvalidParameterValueException("Cache cluster %s is not a member of replication group %s.", pid, g.ID)
	}
	if !now {
		g.PendingPrimary = pid
		return nil
	}
	g.Failover = &resource.Failover{NodeGroupID: ng.ID, From: ng.Primary(), Target: pid, StartedAt: s.now().UTC()}
	g.Status, g.PendingPrimary = resource.StatusModifying, ""
	return nil
}

// ModifyReplicationGroup changes a cluster-mode-disabled group: group settings (description, automatic
// failover, Multi-AZ, primary, durability) directly, node settings (node type, engine version, parameter
// group, AUTH token, windows …) on every member cluster with the cache-cluster rules, all in one transaction.
func (s *Service) ModifyReplicationGroup(ctx context.Context, in *api.ModifyReplicationGroupMessage) (*api.ModifyReplicationGroupResult, error) {
	g, err := s.updateGroup(ctx, region(ctx), strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		switch {
		case in.ClusterMode != nil && !strings.EqualFold(*in.ClusterMode, g.ClusterMode):
			return s.changeClusterMode(tx, g, in)
		case g.ClusterMode == clusterModeCompatible:
			return errCompatible(g)
		case in.TransitEncryptionEnabled != nil || in.TransitEncryptionMode != nil:
			if err := s.changeTransit(tx, g, in); err != nil || g.TransitChange != nil {
				return err // an encryption change goes alone: the members restart one by one
			}
		case len(in.UserGroupIdsToAdd) > 0 || len(in.UserGroupIdsToRemove) > 0 || deref(in.RemoveUserGroups):
			return s.changeUserGroups(tx, g, in) // goes alone: every node takes the new users
		case in.Engine != nil && !strings.EqualFold(*in.Engine, g.Engine):
			return s.changeEngine(tx, g, in)
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
		if err := modifyDurability(g, in.Durability); err != nil {
			return err
		}
		if err := s.modifyPrimary(g, ng, in.PrimaryClusterId, deref(in.ApplyImmediately)); err != nil {
			return err
		}
		if id := strings.ToLower(deref(in.SnapshottingClusterId)); id != "" {
			switch {
			case g.ClusterEnabled:
				return api.InvalidParameterCombinationException("SnapshottingClusterId cannot be set for a cluster mode enabled replication group.")
			case !slices.Contains(g.MemberIDs(), id):
				return api.InvalidParameterValueException("Cache cluster %s is not a member of replication group %s.", id, g.ID)
			}
			g.SnapshottingClusterID = id
		}
		// Node settings go to every member with the cache-cluster rules.
		mod := &api.ModifyCacheClusterMessage{
			ApplyImmediately: in.ApplyImmediately, AuthToken: in.AuthToken, AuthTokenUpdateStrategy: in.AuthTokenUpdateStrategy,
			AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade, CacheNodeType: in.CacheNodeType, CacheParameterGroupName: in.CacheParameterGroupName,
			EngineVersion: in.EngineVersion, NotificationTopicArn: in.NotificationTopicArn, NotificationTopicStatus: in.NotificationTopicStatus,
			PreferredMaintenanceWindow: in.PreferredMaintenanceWindow, SecurityGroupIds: in.SecurityGroupIds, CacheSecurityGroupNames: in.CacheSecurityGroupNames,
			SnapshotRetentionLimit: in.SnapshotRetentionLimit, SnapshotWindow: in.SnapshotWindow, LogDeliveryConfigurations: in.LogDeliveryConfigurations,
			IpDiscovery: in.IpDiscovery,
		}
		return updateMembers(tx, g, func(c *resource.Cluster) error {
			if err := s.modifyCluster(tx, c, mod); err != nil {
				return err
			}
			if c.Status == resource.StatusModifying {
				g.Status = resource.StatusModifying
			}
			g.NodeType, g.EngineVersion, g.ParameterGroup = c.NodeType, c.EngineVersion, c.ParameterGroup
			g.MaintenanceWindow, g.SnapshotWindow, g.SnapshotRetentionLimit = c.MaintenanceWindow, c.SnapshotWindow, c.SnapshotRetentionLimit
			g.AuthToken, g.AuthTokenUpdatedAt, g.AutoMinorVersionUpgrade = c.AuthToken, c.AuthTokenUpdatedAt, c.AutoMinorVersionUpgrade
			g.NotificationTopicARN, g.SecurityGroupIDs, g.LogDelivery = c.NotificationTopicARN, c.SecurityGroupIDs, c.LogDelivery
			g.IPDiscovery = c.IPDiscovery
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return &api.ModifyReplicationGroupResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}
