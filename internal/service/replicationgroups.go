package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/view"
)

const (
	maxReplicationGroupIDLen = 40
	maxNodesPerShard         = 6 // one primary and five replicas
)

// CreateReplicationGroup creates a Valkey or Redis OSS replication group with cluster mode disabled: one
// node group of NumCacheClusters member clusters (or PrimaryClusterId plus new replicas). Each member is a
// cache cluster of one node; the controller starts them and sets up replication.
func (s *Service) CreateReplicationGroup(ctx context.Context, in *api.CreateReplicationGroupMessage) (*api.CreateReplicationGroupResult, error) {
	rg := region(ctx)
	s.restoreVersion(ctx, rg, in.SnapshotName, in.Engine, &in.EngineVersion)
	g, err := s.validateCreateReplicationGroup(rg, in)
	if err != nil {
		return nil, err
	}
	imported, err := s.importedSnapshot(ctx, in.SnapshotArns, g)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(resource.KindReplicationGroup, resource.Key(rg, g.ID)); err == nil {
			return api.ReplicationGroupAlreadyExistsFault("Replication group with specified name already exists.")
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		all, err := loadClusters(tx)
		if err != nil {
			return err
		}
		if err := s.resolveClusterMode(tx, rg, g); err != nil {
			return err
		}
		at, err := s.placement(tx, rg, g.SubnetGroup)
		if err != nil {
			return err
		}
		shards, err := s.planShards(at, in, g)
		if err != nil {
			return err
		}
		var primary *resource.Cluster
		if pid := strings.ToLower(deref(in.PrimaryClusterId)); pid != "" {
			if primary, err = s.adoptPrimary(all, rg, pid, g); err != nil {
				return err
			}
		}
		version, err := s.resolveVersion(g.Engine, g.EngineVersion)
		if err != nil {
			return err
		}
		if err := checkUserGroupsFor(tx, rg, g, g.UserGroupIDs); err != nil {
			return err
		}
		proto := &resource.Cluster{CacheParameterGroupHint: g.ParameterGroup, SubnetGroup: g.SubnetGroup, Engine: g.Engine, ClusterMode: g.ClusterEnabled}
		if err := s.checkReferences(tx, rg, proto, version); err != nil {
			return err
		}
		var seeds []resource.SeedFile
		wantShards := len(shards)
		snap := imported
		if name := strings.ToLower(deref(in.SnapshotName)); name != "" {
			if snap, err = getSnapshot(tx, rg, name); err != nil {
				return err
			}
		}
		if snap != nil {
			if primary != nil {
				return api.InvalidParameterCombinationException("Specify either PrimaryClusterId or a snapshot to restore, not both.")
			}
			if shards, seeds, err = s.planRestore(at, in, g, snap, shards, version); err != nil {
				return err
			}
		}
		g.ParameterGroup = proto.ParameterGroup
		newMembers, err := newMembersOf(tx, rg, shards, primary)
		if err != nil {
			return err
		}
		if err := s.checkQuotas(all, rg, len(newMembers)); err != nil {
			return err
		}
		g.NodeGroups = nodeGroupsOf(shards)
		ports, err := s.allocateGroupPorts(tx, g, len(newMembers))
		if err != nil {
			return err
		}
		batch := &memberBatch{tx: tx, g: g, version: version, ports: ports, now: s.now().UTC()}
		g.CreatedAt = batch.now
		if err := adoptInto(tx, primary, g); err != nil {
			return err
		}
		for _, m := range newMembers {
			if err := batch.create(m.id, m.az); err != nil {
				return err
			}
		}
		if err := seedPrimaries(tx, g, shards, seeds); err != nil {
			return err
		}
		if _, err = tx.Create(resource.KindReplicationGroup, resource.Key(rg, g.ID), resource.Marshal(g)); err != nil || wantShards == len(shards) {
			return err
		}
		return s.reshardRestore(tx, g, wantShards, batch.now)
	})
	if err != nil {
		return nil, faultOrInternal("create replication group", err)
	}
	return &api.CreateReplicationGroupResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// adoptInto makes primary (nil: none) the primary member of g, which is being created.
func adoptInto(tx store.Tx, primary *resource.Cluster, g *resource.ReplicationGroup) error {
	if primary == nil {
		return nil
	}
	primary.ReplicationGroupID = g.ID
	return putCluster(tx, primary)
}

// planRestore fits the planned shards to a snapshot and returns them with each node group's file. A cluster
// mode group restored into another number of node groups starts with the snapshot's and reshards online to
// the number asked for.
func (s *Service) planRestore(at placement, in *api.CreateReplicationGroupMessage, g *resource.ReplicationGroup, snap *resource.Snapshot,
	shards []plannedShard, version engine.Version) ([]plannedShard, []resource.SeedFile, error) {
	if in.Durability == nil && snap.Durability != "" {
		g.Durability = snap.Durability // a restore keeps the snapshot's unless the request says otherwise
	}
	if n := len(snap.Shards); n != len(shards) && g.ClusterEnabled {
		if len(in.NodeGroupConfiguration) > 0 {
			return nil, nil, api.InvalidParameterCombinationException("Snapshot %s has %d node groups; restoring it into %d node groups takes NumNodeGroups, not NodeGroupConfiguration.", snap.Name, n, len(shards))
		}
		planned := *in
		planned.NumNodeGroups = ptr(int32(n))
		var err error
		if shards, err = s.planShards(at, &planned, g); err != nil {
			return nil, nil, err
		}
	}
	target := &resource.Cluster{Engine: g.Engine, EngineVersion: version.EngineVersion, NodeType: g.NodeType}
	seeds, err := restoreFiles(snap, target, len(shards), !g.ClusterEnabled)
	if err != nil {
		return nil, nil, err
	}
	if g.ClusterEnabled && snap.Engine == "" && len(snap.Shards) > 1 {
		if err := importedSlots(snap); err != nil {
			return nil, nil, err
		}
	}
	if err := restoreSlots(snap, shards, in.NodeGroupConfiguration); err != nil {
		return nil, nil, err
	}
	return shards, seeds, nil
}

// nodeGroupsOf lays out the planned shards as the group's node groups, each shard's first member primary.
func nodeGroupsOf(shards []plannedShard) []resource.NodeGroup {
	var out []resource.NodeGroup
	for _, sh := range shards {
		group := resource.NodeGroup{ID: sh.id, Status: resource.StatusCreating, Slots: sh.slots}
		for i, m := range sh.members {
			role := resource.RoleReplica
			if i == 0 {
				role = resource.RolePrimary
			}
			group.Members = append(group.Members, resource.Member{ClusterID: m.id, Role: role})
		}
		out = append(out, group)
	}
	return out
}

// seedPrimaries marks what a restore starts from: each node group's primary starts from its file of the
// snapshot (a cluster mode disabled group's primary from the first, with the keys of the others copied in);
// replicas sync from it.
func seedPrimaries(tx store.Tx, g *resource.ReplicationGroup, shards []plannedShard, seeds []resource.SeedFile) error {
	for i, file := range seeds {
		if i > 0 && !g.ClusterEnabled {
			break
		}
		id := shards[i].members[0].id
		c, obj, err := getRecord[resource.Cluster](tx, resource.KindCluster, resource.Key(g.Region, id), func() error {
			return fmt.Errorf("member %s vanished", id)
		})
		if err != nil {
			return err
		}
		c.SeedSnapshot, c.SeedObject, c.SeedName = file.Path, file.Object, file.Snapshot
		if !g.ClusterEnabled {
			c.MergeFiles = seeds[1:]
		}
		if _, err := tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision); err != nil {
			return err
		}
		if err := restoreStarted(tx, c, g.CreatedAt); err != nil {
			return err
		}
	}
	return nil
}

// restoreStarted records the event that starts the restore of cluster c, when it is one: its node loads the
// snapshot before it becomes available (the controller records how that ends).
func restoreStarted(tx store.Tx, c *resource.Cluster, at time.Time) error {
	if c.SeedName == "" {
		return nil
	}
	return resource.AddEvent(tx, at, 0, c.Region, resource.SourceCacheCluster, c.ID, fmt.Sprintf("Restoring cache node %s from snapshot '%s'", c.Nodes[0].ID, c.SeedName))
}

// newMembersOf lists the planned members that are new clusters (all but an adopted primary), refusing ids
// that are taken.
func newMembersOf(tx store.Tx, rg string, shards []plannedShard, primary *resource.Cluster) ([]plannedMember, error) {
	var out []plannedMember
	for _, sh := range shards {
		for _, m := range sh.members {
			if primary != nil && m.id == primary.ID {
				continue
			}
			if _, err := tx.Get(resource.KindCluster, resource.Key(rg, m.id)); err == nil {
				return nil, api.CacheClusterAlreadyExistsFault("Cache cluster %s already exists.", m.id)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// allocateGroupPorts takes the ports of a new group: those of its members, returned, and one for each of the
// group's endpoints (primary and reader, or the configuration endpoint), set on g.
func (s *Service) allocateGroupPorts(tx store.Tx, g *resource.ReplicationGroup, members int) ([]int, error) {
	endpoints := 2
	if g.ClusterEnabled {
		endpoints = 1
	}
	logs := 0
	if g.Durable() {
		logs = 2 * resource.LogReplicasPerShard * len(g.NodeGroups)
		// Clients reach a durable member through ecache's endpoint, which presents ecache's certificate:
		// the members stay on the node host.
		g.OwnAddresses, g.Port = false, 0
	}
	ports, err := s.allocatePorts(tx, portsPerMember(g)*members+endpoints+logs)
	if err != nil {
		return nil, err
	}
	ports, logPorts := ports[:len(ports)-logs], ports[len(ports)-logs:]
	for i := range g.NodeGroups {
		if g.Durable() {
			g.NodeGroups[i].Log, logPorts = newShardLog(g, logPorts), logPorts[2*resource.LogReplicasPerShard:]
		}
	}
	if g.ClusterEnabled {
		g.ConfigPort = ports[len(ports)-1]
	} else {
		g.PrimaryPort, g.ReaderPort = ports[len(ports)-2], ports[len(ports)-1]
		if g.OwnAddresses {
			g.PrimaryAddress, g.PrimaryPort = resource.SlotAddress(g.PrimaryPort), g.Port
		}
	}
	return ports[:len(ports)-endpoints], nil
}

// importedSnapshot reads the RDB files of SnapshotArns as a snapshot to restore g from; nil without them.
func (s *Service) importedSnapshot(ctx context.Context, arns []string, g *resource.ReplicationGroup) (*resource.Snapshot, error) {
	if arns == nil {
		return nil, nil
	}
	version, err := s.resolveVersion(g.Engine, g.EngineVersion)
	if err != nil {
		return nil, err
	}
	return s.importSnapshot(ctx, arns, g.Engine, version.BinaryVersion)
}

type plannedMember struct{ id, az string }

// plannedShard is one node group to create: its id, its slots (cluster mode) and its members, primary first.
type plannedShard struct {
	id, slots string
	members   []plannedMember
}

// validateCreateReplicationGroup checks everything that needs no stored state.
func (s *Service) validateCreateReplicationGroup(rg string, in *api.CreateReplicationGroupMessage) (*resource.ReplicationGroup, error) {
	id := strings.ToLower(deref(in.ReplicationGroupId))
	if err := validIdentifier("ReplicationGroupId", id, maxReplicationGroupIDLen); err != nil {
		return nil, err
	}
	if strings.TrimSpace(deref(in.ReplicationGroupDescription)) == "" {
		return nil, api.InvalidParameterValueException("The parameter ReplicationGroupDescription must be provided and must not be blank.")
	}
	if in.GlobalReplicationGroupId != nil {
		return nil, api.GlobalReplicationGroupNotFoundFault("Global replication group %s not found.", *in.GlobalReplicationGroupId)
	}
	clusterMode := strings.ToLower(deref(in.ClusterMode))
	multiShard := deref(in.NumNodeGroups) > 1 || len(in.NodeGroupConfiguration) > 1
	switch {
	case clusterMode == "compatible":
		return nil, api.InvalidParameterCombinationException("ClusterMode compatible is reached from disabled with ModifyReplicationGroup; create the group with cluster mode enabled or disabled.")
	case clusterMode != "" && clusterMode != "enabled" && clusterMode != "disabled":
		return nil, api.InvalidParameterValueException("Invalid value %q for ClusterMode: use enabled, disabled or compatible.", deref(in.ClusterMode))
	case clusterMode == "disabled" && multiShard:
		return nil, api.InvalidParameterCombinationException("A cluster mode disabled replication group has one node group; NumNodeGroups and NodeGroupConfiguration ask for more.")
	}
	g := &resource.ReplicationGroup{
		Region: rg, ID: id, UID: newUID(), Description: deref(in.ReplicationGroupDescription), Status: resource.StatusCreating,
		ClusterMode: clusterMode, ClusterEnabled: clusterMode == "enabled" || multiShard,
		AutomaticFailover: deref(in.AutomaticFailoverEnabled), MultiAZ: deref(in.MultiAZEnabled),
		AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade == nil || *in.AutoMinorVersionUpgrade,
		ParameterGroup:          strings.ToLower(deref(in.CacheParameterGroupName)),
	}
	if in.PrimaryClusterId == nil {
		g.Engine = strings.ToLower(deref(in.Engine))
		if g.Engine == "" {
			g.Engine = engine.EngineRedis
		}
		if g.Engine != engine.EngineRedis && g.Engine != engine.EngineValkey {
			return nil, api.InvalidParameterValueException("Invalid value %q for Engine: a replication group runs valkey or redis.", deref(in.Engine))
		}
		version, err := s.resolveVersion(g.Engine, deref(in.EngineVersion))
		if err != nil {
			return nil, err
		}
		g.EngineVersion = version.EngineVersion
		g.NodeType = deref(in.CacheNodeType)
		if g.NodeType == "" {
			return nil, api.InvalidParameterValueException("The parameter CacheNodeType must be provided.")
		}
		nt, ok := engine.NodeType(g.NodeType)
		switch {
		case !ok:
			return nil, api.InvalidParameterValueException("Invalid CacheNodeType: %s.", g.NodeType)
		case nt.Generation != engine.GenerationCurrent:
			return nil, api.InvalidParameterValueException("CacheNodeType %s is a previous generation node type; creating new clusters with it is not supported.", g.NodeType)
		case !nt.SupportsEngine(g.Engine, g.EngineVersion):
			return nil, api.InvalidParameterCombinationException("CacheNodeType %s does not support %s version %s.", g.NodeType, g.Engine, g.EngineVersion)
		case nt.DataTiering && !deref(in.DataTieringEnabled):
			return nil, api.InvalidParameterCombinationException("CacheNodeType %s requires DataTieringEnabled=true.", g.NodeType)
		}
	}

	if err := s.applyReplicationGroupOptions(rg, in, g); err != nil {
		return nil, err
	}
	return g, nil
}

// resolveClusterMode settles whether the group runs in cluster mode: as the request asked, or as its
// parameter group's cluster-enabled says; the two must agree.
func (s *Service) resolveClusterMode(tx store.Tx, rg string, g *resource.ReplicationGroup) error {
	if g.ParameterGroup != "" {
		pg, err := lookupParameterGroup(tx, rg, g.ParameterGroup)
		if err != nil {
			return err
		}
		switch {
		case pg.ClusterEnabled && g.ClusterMode == "disabled":
			return api.InvalidParameterCombinationException("The parameter group %s has cluster-enabled yes, which a cluster mode disabled replication group cannot use.", pg.Name)
		case !pg.ClusterEnabled && g.ClusterEnabled:
			return api.InvalidParameterCombinationException("A cluster mode enabled replication group needs a parameter group with cluster-enabled yes; %s has no.", pg.Name)
		}
		g.ClusterEnabled = pg.ClusterEnabled
	}
	g.ClusterMode = "disabled"
	if g.ClusterEnabled {
		g.ClusterMode = "enabled"
	}
	return nil
}

// planShards lays out the node groups and member clusters the request asks for.
func (s *Service) planShards(at placement, in *api.CreateReplicationGroupMessage, g *resource.ReplicationGroup) ([]plannedShard, error) {
	if g.ClusterEnabled {
		return planClusterShards(at, in, g, s.cfg.Quotas.NodesPerGroup)
	}
	members, err := planSingleShard(at, in, g)
	if err != nil {
		return nil, err
	}
	return []plannedShard{{id: "0001", members: members}}, nil
}

// planSingleShard lays out the one node group of a cluster mode disabled group.
func planSingleShard(at placement, in *api.CreateReplicationGroupMessage, g *resource.ReplicationGroup) ([]plannedMember, error) {
	id := g.ID
	// Node count: NumCacheClusters, or one node group of 1 + ReplicasPerNodeGroup, or its configuration.
	count := 1
	var azs []string
	switch {
	case in.NumCacheClusters != nil:
		count = int(*in.NumCacheClusters)
		if in.ReplicasPerNodeGroup != nil || len(in.NodeGroupConfiguration) > 0 {
			return nil, api.InvalidParameterCombinationException("NumCacheClusters cannot be combined with ReplicasPerNodeGroup or NodeGroupConfiguration.")
		}
		azs = in.PreferredCacheClusterAZs
	case len(in.NodeGroupConfiguration) == 1:
		ngc := in.NodeGroupConfiguration[0]
		if ngc.NodeGroupId != nil && *ngc.NodeGroupId != "0001" {
			return nil, api.InvalidParameterValueException("Invalid NodeGroupId %q: the node group of a cluster mode disabled replication group is 0001.", *ngc.NodeGroupId)
		}
		replicas := ngc.ReplicaCount
		if replicas == nil {
			replicas = in.ReplicasPerNodeGroup
		}
		count = int(deref(replicas)) + 1
		if deref(replicas) < 0 || deref(replicas) > 5 {
			return nil, api.InvalidParameterValueException("The number of replicas per node group must be within 0 and 5.")
		}
		if ngc.PrimaryAvailabilityZone != nil {
			azs = append([]string{*ngc.PrimaryAvailabilityZone}, ngc.ReplicaAvailabilityZones...)
		}
	case in.ReplicasPerNodeGroup != nil:
		count = int(*in.ReplicasPerNodeGroup) + 1
		if *in.ReplicasPerNodeGroup < 0 || *in.ReplicasPerNodeGroup > 5 {
			return nil, api.InvalidParameterValueException("The number of replicas per node group must be within 0 and 5.")
		}
	}
	if in.PrimaryClusterId != nil && in.NumCacheClusters == nil && in.ReplicasPerNodeGroup == nil {
		count = 1
	}
	if count < 1 || count > maxNodesPerShard {
		return nil, api.InvalidParameterValueException("NumCacheClusters must be between 1 and %d (a primary and up to five replicas).", maxNodesPerShard)
	}
	if g.AutomaticFailover && count < 2 {
		return nil, api.InvalidParameterCombinationException("Automatic failover requires at least two cache clusters: a primary and a replica.")
	}
	if g.MultiAZ && !g.AutomaticFailover {
		return nil, api.InvalidParameterCombinationException("Multi-AZ requires automatic failover to be enabled.")
	}
	if g.AutomaticFailover && g.NodeType == "cache.t1.micro" {
		return nil, api.InvalidParameterCombinationException("Automatic failover is not supported on cache.t1.micro.")
	}
	if azs != nil && len(azs) != count {
		return nil, api.InvalidParameterValueException("The number of Availability Zones (%d) must equal the number of cache clusters (%d).", len(azs), count)
	}
	members := make([]plannedMember, count)
	for i := range count {
		az, err := at.memberAZ(azs, i, g.MultiAZ)
		if err != nil {
			return nil, err
		}
		members[i] = plannedMember{id: fmt.Sprintf("%s-%03d", id, i+1), az: az}
	}
	if pid := deref(in.PrimaryClusterId); pid != "" {
		members[0].id = strings.ToLower(pid)
	}

	return members, nil
}

// applyReplicationGroupOptions validates and records the optional settings shared with cache clusters.
func (s *Service) applyReplicationGroupOptions(rg string, in *api.CreateReplicationGroupMessage, g *resource.ReplicationGroup) error {
	// The cache-cluster rules apply unchanged: reuse them on an equivalent request.
	cc := &api.CreateCacheClusterMessage{
		PreferredMaintenanceWindow: in.PreferredMaintenanceWindow, SnapshotWindow: in.SnapshotWindow,
		SnapshotRetentionLimit: in.SnapshotRetentionLimit, Port: in.Port, TransitEncryptionEnabled: in.TransitEncryptionEnabled,
		AuthToken: in.AuthToken, SnapshotArns: in.SnapshotArns, SnapshotName: in.SnapshotName, NotificationTopicArn: in.NotificationTopicArn,
		LogDeliveryConfigurations: in.LogDeliveryConfigurations, Tags: in.Tags, NetworkType: in.NetworkType, IpDiscovery: in.IpDiscovery,
		CacheSecurityGroupNames: in.CacheSecurityGroupNames, SecurityGroupIds: in.SecurityGroupIds, CacheSubnetGroupName: in.CacheSubnetGroupName,
	}
	c := &resource.Cluster{Region: rg, Engine: g.Engine, EngineVersion: g.EngineVersion, NodeType: g.NodeType}
	if err := s.applyCreateOptions(rg, cc, c, false); err != nil {
		return err
	}
	if in.ServerlessCacheSnapshotName != nil {
		return api.InvalidParameterValueException("Serverless cache snapshot %s not found.", *in.ServerlessCacheSnapshotName)
	}
	if deref(in.DataTieringEnabled) {
		if nt, _ := engine.NodeType(g.NodeType); !nt.DataTiering {
			return api.InvalidParameterCombinationException("DataTieringEnabled requires a node type with data tiering (cache.r6gd).")
		}
		return api.InvalidParameterCombinationException("Data tiering is not available on this ecache host: its engines keep every item in memory, with no SSD tier to move items to.")
	}
	g.MaintenanceWindow, g.SnapshotWindow, g.SnapshotRetentionLimit = c.MaintenanceWindow, c.SnapshotWindow, c.SnapshotRetentionLimit
	g.NetworkType, g.IPDiscovery = c.NetworkType, c.IPDiscovery
	g.NotificationTopicARN, g.Tags, g.LogDelivery = c.NotificationTopicARN, c.Tags, c.LogDelivery
	g.TransitEncryption, g.AuthToken, g.AuthTokenUpdatedAt = c.TransitEncryption, c.AuthToken, c.AuthTokenUpdatedAt
	g.OwnAddresses, g.Port = c.OwnAddresses, c.Port
	mode, err := createTransitMode(g, deref(in.TransitEncryptionMode))
	if err != nil {
		return err
	}
	g.TransitEncryptionMode = mode
	if g.Durability, err = createDurability(g, in); err != nil {
		return err
	}
	if err := associateUserGroups(g, in.UserGroupIds, in.PrimaryClusterId != nil); err != nil {
		return err
	}
	g.SubnetGroup, g.SecurityGroupIDs = c.SubnetGroup, c.SecurityGroupIDs
	g.AtRestEncryption = g.Engine == engine.EngineValkey
	if in.AtRestEncryptionEnabled != nil {
		g.AtRestEncryption = *in.AtRestEncryptionEnabled
	}
	if in.KmsKeyId != nil {
		if !g.AtRestEncryption {
			return api.InvalidParameterCombinationException("KmsKeyId requires AtRestEncryptionEnabled.")
		}
		g.KMSKeyID = *in.KmsKeyId
	}
	return nil
}

// adoptPrimary checks the cluster named by PrimaryClusterId: available, Valkey or Redis OSS, in no group.
func (s *Service) adoptPrimary(all []*resource.Cluster, rg, id string, g *resource.ReplicationGroup) (*resource.Cluster, error) {
	i := slices.IndexFunc(all, func(c *resource.Cluster) bool { return c.Region == rg && c.ID == id })
	if i < 0 {
		return nil, api.CacheClusterNotFoundFault("CacheCluster not found: %s", id)
	}
	c := all[i]
	switch {
	case clusterStatus(c) != resource.StatusAvailable:
		return nil, api.InvalidCacheClusterStateFault("Cache cluster %s is not in available state (it is %s).", c.ID, clusterStatus(c))
	case c.Engine == engine.EngineMemcached:
		return nil, api.InvalidParameterCombinationException("A Memcached cluster cannot be the primary of a replication group.")
	case c.ReplicationGroupID != "":
		return nil, api.InvalidParameterCombinationException("Cache cluster %s already belongs to replication group %s.", c.ID, c.ReplicationGroupID)
	}
	g.Engine, g.EngineVersion, g.NodeType = c.Engine, c.EngineVersion, c.NodeType
	g.NetworkType, g.IPDiscovery = c.NetworkType, c.IPDiscovery // its engine keeps listening where it does
	g.OwnAddresses, g.Port = c.OwnAddresses, c.Port
	if g.ParameterGroup == "" {
		g.ParameterGroup = c.ParameterGroup
	}
	return c, nil
}

// portsPerMember is how many node-range ports a member takes: its client port and, with cluster mode, its
// cluster bus port.
func portsPerMember(g *resource.ReplicationGroup) int {
	n := 1
	if g.ClusterEnabled {
		n++
	}
	if g.Fronted() {
		n += 2 // the engine's own plain and TLS ports behind the node's
	}
	return n
}

// createMember stores a new member cache cluster of one node on the first ports of ports and returns the
// ports left.
// topicStatus is the status of a notification topic when it is set: active.
func topicStatus(arn string) string {
	if arn == "" {
		return ""
	}
	return "active"
}

// memberBatch creates the member clusters of one change to a group: on ports allocated for all of them at
// once, at one engine version and one creation time.
type memberBatch struct {
	tx      store.Tx
	g       *resource.ReplicationGroup
	version engine.Version
	ports   []int
	now     time.Time
}

// newMemberBatch allocates the ports of n new members of g and resolves their engine version.
func (s *Service) newMemberBatch(tx store.Tx, g *resource.ReplicationGroup, n int) (*memberBatch, error) {
	ports, err := s.allocatePorts(tx, portsPerMember(g)*n)
	if err != nil {
		return nil, err
	}
	version, err := s.resolveVersion(g.Engine, g.EngineVersion)
	if err != nil {
		return nil, err
	}
	return &memberBatch{tx: tx, g: g, version: version, ports: ports, now: s.now().UTC()}, nil
}

// create stores member cluster id of the group, in az, on the batch's next ports.
func (b *memberBatch) create(id, az string) error {
	g, now := b.g, b.now
	node := resource.Node{ID: "0001", Status: resource.NodeCreating, CreatedAt: now, Port: b.ports[0], AZ: az}
	node.Place(g.OwnAddresses, g.Port)
	next := b.ports[1:]
	if g.ClusterEnabled {
		node.BusPort, next = next[0], next[1:]
	}
	if g.Fronted() {
		node.EnginePorts = next[:2]
	}
	b.ports = b.ports[portsPerMember(g):]
	c := &resource.Cluster{
		Region: g.Region, ID: id, UID: newUID(), Engine: g.Engine, EngineVersion: b.version.EngineVersion, NodeType: g.NodeType,
		Status: resource.StatusCreating, CreatedAt: now, ParameterGroup: g.ParameterGroup, ParameterApplyStatus: "in-sync",
		SubnetGroup: g.SubnetGroup, SecurityGroupIDs: g.SecurityGroupIDs, PreferredAZ: az,
		MaintenanceWindow: g.MaintenanceWindow, SnapshotWindow: g.SnapshotWindow, SnapshotRetentionLimit: g.SnapshotRetentionLimit,
		AutoMinorVersionUpgrade: g.AutoMinorVersionUpgrade, TransitEncryption: g.TransitEncryption, TransitEncryptionMode: g.TransitEncryptionMode,
		AtRestEncryption: g.AtRestEncryption,
		AuthToken:        g.AuthToken, AuthTokenUpdatedAt: g.AuthTokenUpdatedAt, ACLSecret: g.MemberACLSecret(), NetworkType: g.NetworkType, IPDiscovery: g.IPDiscovery,
		Tags: g.Tags, ReplicationGroupID: g.ID, ClusterMode: g.ClusterEnabled, LogDelivery: slices.Clone(g.LogDelivery), Durable: g.Durable(),
		NotificationTopicARN: g.NotificationTopicARN, NotificationTopicStatus: topicStatus(g.NotificationTopicARN),
		OwnAddresses: g.OwnAddresses, Port: g.Port, Nodes: []resource.Node{node},
	}
	_, err := b.tx.Create(resource.KindCluster, resource.Key(g.Region, id), resource.Marshal(c))
	return err
}

// DescribeReplicationGroups lists the region's replication groups with Marker pagination. Each group is
// rendered once per stored revision of it and of its member clusters, and its XML kept with it.
func (s *Service) DescribeReplicationGroups(ctx context.Context, in *api.DescribeReplicationGroupsMessage) (*api.ReplicationGroupMessage, error) {
	const op = "describe replication groups"
	id := strings.ToLower(deref(in.ReplicationGroupId))
	recs, max, err := regionView[resource.ReplicationGroup](ctx, s.view, op, resource.KindReplicationGroup, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(r *view.Record[resource.ReplicationGroup]) bool { return id != "" && r.Value.ID != id })
	if id != "" && len(recs) == 0 {
		return nil, api.ReplicationGroupNotFoundFault("ReplicationGroup %s not found", id)
	}
	clusters, _, err := regionView[resource.Cluster](ctx, s.view, op, resource.KindCluster, nil)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*view.Record[resource.Cluster], len(clusters))
	for _, c := range clusters {
		byID[c.Value.ID] = c
	}
	out := &api.ReplicationGroupMessage{}
	out.ReplicationGroups, out.Marker = renderPage(recs, func(r *view.Record[resource.ReplicationGroup]) string { return r.Value.ID }, in.Marker, max,
		func(r *view.Record[resource.ReplicationGroup]) api.ReplicationGroup {
			ids := r.Value.MemberIDs()
			var stamp []byte // the members' revisions: a change to one renders the group again
			for _, mid := range ids {
				if c := byID[mid]; c != nil {
					stamp = strconv.AppendInt(append(append(stamp, mid...), '@'), c.Revision, 10)
					stamp = append(stamp, ',')
				}
			}
			return view.Derive(r, "group", string(stamp), func(g *resource.ReplicationGroup) api.ReplicationGroup {
				members := make(map[string]*resource.Cluster, len(ids))
				for _, mid := range ids {
					if c := byID[mid]; c != nil {
						members[mid] = c.Value
					}
				}
				rg := s.renderGroup(g, members)
				rg.Prerender()
				return *rg
			})
		})
	return out, nil
}

// DeleteReplicationGroup deletes the group and its member clusters; RetainPrimaryCluster keeps the primary
// as a standalone cluster.
func (s *Service) DeleteReplicationGroup(ctx context.Context, in *api.DeleteReplicationGroupMessage) (*api.DeleteReplicationGroupResult, error) {
	rg := region(ctx)
	out, err := s.updateGroupWhen(ctx, rg, strings.ToLower(deref(in.ReplicationGroupId)), groupDeletable, func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if in.FinalSnapshotIdentifier != nil && incompatibleMember(g, all) != nil {
			return api.InvalidReplicationGroupStateFault("Replication group %s has a member whose engine cannot start (%s): no final snapshot can be taken.", g.ID, resource.StatusIncompatibleParameters)
		}
		if in.FinalSnapshotIdentifier != nil && g.Status == resource.StatusCreateFailed {
			return api.InvalidReplicationGroupStateFault("Replication group %s is in %s state: it has no data to take a final snapshot of.", g.ID, g.Status)
		}
		if in.FinalSnapshotIdentifier != nil {
			// The controller copies the data before it stops the members' engines.
			snap, err := s.newSnapshot(tx, rg, strings.ToLower(*in.FinalSnapshotIdentifier), "", g.ID, "final")
			if err != nil {
				return err
			}
			if err := putSnapshot(tx, snap); err != nil {
				return err
			}
		}
		retain := deref(in.RetainPrimaryCluster)
		if retain && g.ClusterEnabled {
			return api.InvalidParameterCombinationException("RetainPrimaryCluster is not supported for cluster mode enabled replication groups.")
		}
		primary, members := g.NodeGroups[0].Primary(), g.MemberIDs()
		for _, c := range all {
			if c.Region != rg || !slices.Contains(members, c.ID) {
				continue
			}
			if retain && c.ID == primary {
				c.ReplicationGroupID = ""
			} else {
				c.MarkDeleting()
			}
			if err := putCluster(tx, c); err != nil {
				return err
			}
		}
		g.Status = resource.StatusDeleting
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteReplicationGroupResult{ReplicationGroup: s.renderReplicationGroup(ctx, out)}, nil
}

// groupDeletable refuses to delete a group that is neither available nor held up by a member whose engine
// refuses its parameters, nor failed to create (those can always be deleted).
func groupDeletable(g *resource.ReplicationGroup, all []*resource.Cluster) error {
	if (g.Status != resource.StatusDeleting && incompatibleMember(g, all) != nil) || g.Status == resource.StatusCreateFailed {
		return nil
	}
	return groupAvailable(g)
}

// incompatibleMember is a member of g whose engine refuses its parameters, or nil.
func incompatibleMember(g *resource.ReplicationGroup, all []*resource.Cluster) *resource.Cluster {
	for _, c := range all {
		if c.Region == g.Region && c.ReplicationGroupID == g.ID && c.Incompatible != "" {
			return c
		}
	}
	return nil
}

// renderReplicationGroup builds the ReplicationGroup shape, reading member clusters for node endpoints.
func (s *Service) renderReplicationGroup(ctx context.Context, g *resource.ReplicationGroup) *api.ReplicationGroup {
	return s.renderGroup(g, s.memberClusters(ctx, g))
}

// renderGroup builds the ReplicationGroup shape of g with its member clusters by id.
func (s *Service) renderGroup(g *resource.ReplicationGroup, members map[string]*resource.Cluster) *api.ReplicationGroup {
	failover := "disabled"
	if g.AutomaticFailover {
		failover = "enabled"
	}
	multiAZ := "disabled"
	if g.MultiAZ {
		multiAZ = "enabled"
	}
	storage := "none"
	if g.AtRestEncryption {
		storage = "sse-elasticache"
		if g.KMSKeyID != "" {
			storage = "sse-kms"
		}
	}
	out := &api.ReplicationGroup{
		ARN:                        ptr(s.arn(g.Region, "replicationgroup", g.ID)),
		ReplicationGroupId:         ptr(g.ID),
		Description:                ptr(g.Description),
		Status:                     ptr(groupStatus(g)),
		Engine:                     ptr(g.Engine),
		CacheNodeType:              ptr(g.NodeType),
		AutomaticFailover:          ptr(failover),
		MultiAZ:                    ptr(multiAZ),
		ClusterEnabled:             ptr(g.ClusterEnabled),
		ClusterMode:                ptr(g.ClusterMode),
		SnapshotRetentionLimit:     ptr(g.SnapshotRetentionLimit),
		SnapshotWindow:             ptr(g.SnapshotWindow),
		AuthTokenEnabled:           ptr(g.AuthToken != ""),
		AuthTokenLastModifiedDate:  g.AuthTokenUpdatedAt,
		TransitEncryptionEnabled:   ptr(g.TransitEncryption),
		AtRestEncryptionEnabled:    ptr(g.AtRestEncryption),
		StorageEncryptionType:      ptr(storage),
		ReplicationGroupCreateTime: ptr(g.CreatedAt),
		DataTiering:                ptr("disabled"),
		AutoMinorVersionUpgrade:    ptr(g.AutoMinorVersionUpgrade),
		NetworkType:                ptr(g.NetworkType),
		IpDiscovery:                ptr(g.IPDiscovery),
		Durability:                 ptr(g.Durability),
		EffectiveDurability:        ptr(effectiveDurability(g)),
		MemberClusters:             g.MemberIDs(),
		MemberClustersOutpostArns:  []string{},
		UserGroupIds:               append([]string{}, g.UserGroupIDs...),
		LogDeliveryConfigurations:  renderLogDelivery(g.LogDelivery),
		PendingModifiedValues:      &api.ReplicationGroupPendingModifiedValues{},
	}
	if g.KMSKeyID != "" {
		out.KmsKeyId = ptr(g.KMSKeyID)
	}
	if !g.ClusterEnabled && len(g.NodeGroups) == 1 && (g.SnapshotRetentionLimit > 0 || g.SnapshottingClusterID != "") {
		out.SnapshottingClusterId = ptr(snapshottingMember(g, &g.NodeGroups[0]))
	}
	if g.TransitEncryption {
		out.TransitEncryptionMode = ptr(cmp.Or(g.TransitEncryptionMode, resource.TransitRequired))
	}
	if g.ClusterMode == clusterModeCompatible && g.Status == resource.StatusModifying {
		out.PendingModifiedValues.ClusterMode = ptr(clusterModeCompatible) // engines still moving to cluster mode
	}
	if p := g.UserGroupsPending; p != nil {
		out.PendingModifiedValues.UserGroups = &api.UserGroupsUpdateStatus{UserGroupIdsToAdd: slices.Clone(p.Add), UserGroupIdsToRemove: slices.Clone(p.Remove)}
	}
	if tc := g.TransitChange; tc != nil {
		out.PendingModifiedValues.TransitEncryptionEnabled = ptr(tc.Enabled)
		out.PendingModifiedValues.TransitEncryptionMode = optional(tc.Mode)
	}
	if g.ConfigPort != 0 {
		out.ConfigurationEndpoint = &api.Endpoint{Address: ptr(s.nodeHost(g.IPDiscovery)), Port: ptr(int32(g.ConfigPort))}
	}
	for _, ng := range g.NodeGroups {
		out.NodeGroups = append(out.NodeGroups, s.renderNodeGroup(g, ng, members))
	}
	if r := g.Resharding; r != nil && r.TotalSlots > 0 {
		pct := 100 * float64(r.MovedSlots) / float64(r.TotalSlots)
		out.PendingModifiedValues.Resharding = &api.ReshardingStatus{SlotMigration: &api.SlotMigration{ProgressPercentage: &pct}}
	}
	if g.Failover != nil && g.Failover.Target != "" {
		out.PendingModifiedValues.PrimaryClusterId = ptr(g.Failover.Target)
	} else if g.PendingPrimary != "" {
		out.PendingModifiedValues.PrimaryClusterId = ptr(g.PendingPrimary)
	}
	for _, c := range members { // an AUTH token change goes to every member at once
		if c.Pending.AuthTokenStatus != "" {
			out.PendingModifiedValues.AuthTokenStatus = ptr(c.Pending.AuthTokenStatus)
		}
	}
	return out
}

// memberClusters reads the member clusters of g by id; one that cannot be read is left out.
func (s *Service) memberClusters(ctx context.Context, g *resource.ReplicationGroup) map[string]*resource.Cluster {
	out := map[string]*resource.Cluster{}
	for _, id := range g.MemberIDs() {
		if c, _, err := resource.Load[resource.Cluster](ctx, s.store, resource.KindCluster, resource.Key(g.Region, id)); err == nil {
			out[id] = c
		}
	}
	return out
}

// renderNodeGroup is one node group of a replication group with its members, their roles and endpoints.
func (s *Service) renderNodeGroup(g *resource.ReplicationGroup, ng resource.NodeGroup, members map[string]*resource.Cluster) api.NodeGroup {
	host := s.nodeHost(g.IPDiscovery)
	node := api.NodeGroup{
		NodeGroupId:      ptr(ng.ID),
		Status:           ptr(ng.Status),
		NodeGroupMembers: []api.NodeGroupMember{},
	}
	if g.ClusterEnabled {
		// Cluster-aware clients find the shards through the configuration endpoint; like ElastiCache,
		// a shard shows its slots but no endpoints or roles of its own.
		if ng.Slots != "" {
			node.Slots = ptr(ng.Slots)
		}
	} else {
		node.PrimaryEndpoint = &api.Endpoint{Address: ptr(cmp.Or(g.PrimaryAddress, host)), Port: ptr(int32(g.PrimaryPort))}
		node.ReaderEndpoint = &api.Endpoint{Address: ptr(host), Port: ptr(int32(g.ReaderPort))}
	}
	for _, m := range ng.Members {
		member := api.NodeGroupMember{CacheClusterId: ptr(m.ClusterID), CacheNodeId: ptr("0001")}
		if !g.ClusterEnabled {
			member.CurrentRole = ptr(m.Role)
		}
		if c := members[m.ClusterID]; c != nil && len(c.Nodes) > 0 {
			member.PreferredAvailabilityZone = ptr(c.Nodes[0].AZ)
			if c.Nodes[0].Status != resource.NodeCreating && !g.ClusterEnabled {
				member.ReadEndpoint = &api.Endpoint{Address: ptr(c.Nodes[0].Host(host)), Port: ptr(int32(c.Nodes[0].Port))}
			}
		}
		node.NodeGroupMembers = append(node.NodeGroupMembers, member)
	}
	return node
}

// testFailoversPerDay is how many node groups TestFailover may fail over in a rolling 24 hours, for an
// account in a region.
const testFailoversPerDay = 15

// recentTestFailovers counts the TestFailover calls of the last 24 hours over every replication group of
// region rg: the limit is the account's, not a group's.
func recentTestFailovers(tx store.Tx, rg string, now time.Time) (int, error) {
	groups, err := resource.List[resource.ReplicationGroup](tx, resource.KindReplicationGroup)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range groups {
		for _, t := range g.TestFailovers {
			if g.Region == rg && now.Sub(t) < 24*time.Hour {
				n++
			}
		}
	}
	return n, nil
}

// TestFailover asks the controller to move a node group's primary role to a replica, as a failure would:
// the most up-to-date replica is promoted and the old primary is recovered as a replica.
func (s *Service) TestFailover(ctx context.Context, in *api.TestFailoverMessage) (*api.TestFailoverResult, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.ReplicationGroupId))
	ngID := deref(in.NodeGroupId)
	var out *resource.ReplicationGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		g, obj, err := getGroup(tx, rg, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(g.NodeGroups, func(ng resource.NodeGroup) bool { return ng.ID == ngID })
		if i < 0 {
			return api.NodeGroupNotFoundFault("NodeGroup %s not found in replication group %s.", ngID, g.ID)
		}
		if st := groupStatus(g); st != resource.StatusAvailable || g.Failover != nil {
			return api.InvalidReplicationGroupStateFault("Replication group %s is not in available state (it is %s).", g.ID, st)
		}
		if !g.AutomaticFailover {
			return api.InvalidReplicationGroupStateFault("Test failover requires automatic failover to be enabled on replication group %s.", g.ID)
		}
		ng := g.NodeGroups[i]
		if len(ng.Members) < 2 {
			return api.InvalidReplicationGroupStateFault("Node group %s of replication group %s has no replica to fail over to.", ngID, g.ID)
		}
		now := s.now().UTC()
		recent := slices.DeleteFunc(slices.Clone(g.TestFailovers), func(t time.Time) bool { return now.Sub(t) >= 24*time.Hour })
		if n, err := recentTestFailovers(tx, rg, now); err != nil {
			return err
		} else if n >= testFailoversPerDay {
			return api.TestFailoverNotAvailableFault("TestFailover can be called for at most %d node groups of an account in a region in a rolling 24-hour period.", testFailoversPerDay)
		}
		g.TestFailovers = append(recent, now)
		g.Failover = &resource.Failover{NodeGroupID: ngID, From: ng.Primary(), Test: true, StartedAt: now}
		g.Status = resource.StatusModifying
		g.NodeGroups[i].Status = resource.StatusModifying
		if err := resource.AddEvent(tx, now, 0, g.Region, resource.SourceReplicationGroup, g.ID, "Test Failover API called for node group "+ngID); err != nil {
			return err
		}
		out = g
		_, err = tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision)
		return err
	})
	if err != nil {
		return nil, faultOrInternal("test failover", err)
	}
	return &api.TestFailoverResult{ReplicationGroup: s.renderReplicationGroup(ctx, out)}, nil
}
