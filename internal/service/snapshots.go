package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const (
	// maxSnapshotNameLen bounds SnapshotName.
	maxSnapshotNameLen = 255
	// manualSnapshotsPerDay is ElastiCache's quota of manual snapshots per cluster in a rolling 24 hours.
	manualSnapshotsPerDay = 20
)

// CreateSnapshot records a manual snapshot of a Valkey/Redis OSS cache cluster or replication group; the
// controller copies each node group's data (from a replica where there is one) while the source keeps serving.
func (s *Service) CreateSnapshot(ctx context.Context, in *api.CreateSnapshotMessage) (*api.CreateSnapshotResult, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.SnapshotName))
	if err := validIdentifier("SnapshotName", name, maxSnapshotNameLen); err != nil {
		return nil, err
	}
	clusterID, groupID := strings.ToLower(deref(in.CacheClusterId)), strings.ToLower(deref(in.ReplicationGroupId))
	if (clusterID == "") == (groupID == "") {
		return nil, api.InvalidParameterCombinationException("Specify exactly one of CacheClusterId and ReplicationGroupId.")
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	var snap *resource.Snapshot
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if snap, err = s.newSnapshot(tx, rg, name, clusterID, groupID, "manual"); err != nil {
			return err
		}
		snap.Tags = tags
		if in.KmsKeyId != nil {
			// A snapshot taken with a KMS key is encrypted with it, whatever its source.
			snap.KMSKeyID, snap.AtRestEncryption = *in.KmsKeyId, true
		}
		if err := putSnapshot(tx, snap); err != nil {
			return err
		}
		return markSnapshotting(tx, snap)
	})
	if err != nil {
		return nil, faultOrInternal("create snapshot", err)
	}
	return &api.CreateSnapshotResult{Snapshot: s.renderSnapshot(snap, false)}, nil
}

// newSnapshot describes a new snapshot name of cluster clusterID or group groupID, source "manual" (a name
// the user chose), "automated", or "final" (a manual one taken as the cluster or group is deleted: of a
// group, from the primaries, which have the freshest data), checking the name is free and the source can be
// snapshotted; putSnapshot stores it.
func (s *Service) newSnapshot(tx store.Tx, rg, name, clusterID, groupID, source string) (*resource.Snapshot, error) {
	final := source == "final"
	if final {
		source = "manual"
	}
	if source == "manual" {
		if err := validIdentifier("SnapshotName", name, maxSnapshotNameLen); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Get(resource.KindSnapshot, resource.Key(rg, name)); err == nil {
		return nil, api.SnapshotAlreadyExistsFault("Snapshot %s already exists.", name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	all, err := resource.List[resource.Snapshot](tx, resource.KindSnapshot)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var snap *resource.Snapshot
	if groupID != "" {
		snap, err = s.groupSnapshot(tx, rg, groupID, final)
	} else {
		snap, err = s.clusterSnapshot(tx, rg, clusterID)
	}
	if err != nil {
		return nil, err
	}
	recent := 0
	for _, o := range all {
		if o.Region == rg && o.Source == "manual" && o.CacheClusterID == snap.CacheClusterID && o.ReplicationGroupID == snap.ReplicationGroupID && now.Sub(o.CreatedAt) < 24*time.Hour {
			recent++
		}
	}
	if source == "manual" && recent >= manualSnapshotsPerDay {
		return nil, api.SnapshotQuotaExceededFault("The maximum number of manual snapshots for this cluster taken within 24 hours has been reached.")
	}
	snap.Name, snap.UID, snap.Source, snap.Status, snap.CreatedAt = name, newUID(), source, resource.SnapshotCreating, now
	return snap, nil
}

func putSnapshot(tx store.Tx, snap *resource.Snapshot) error {
	_, err := tx.Create(resource.KindSnapshot, resource.Key(snap.Region, snap.Name), resource.Marshal(snap))
	return err
}

// snapshotSource checks that a cluster can be snapshotted now.
func snapshotSource(c *resource.Cluster) error {
	switch {
	case c.Engine == engine.EngineMemcached:
		return api.SnapshotFeatureNotSupportedFault("Snapshots are not supported for Memcached cache clusters.")
	case c.NodeType == "cache.t1.micro":
		return api.SnapshotFeatureNotSupportedFault("Snapshots are not supported for cache node type cache.t1.micro.")
	case c.Status != resource.StatusAvailable:
		return api.InvalidCacheClusterStateFault("Cache cluster %s is not in available state (it is %s).", c.ID, c.Status)
	case c.Snapshotting != "":
		return api.InvalidCacheClusterStateFault("Cache cluster %s is not in available state (it is snapshotting for %s).", c.ID, c.Snapshotting)
	}
	return nil
}

// markSnapshotting shows the snapshot's sources as snapshotting until the controller has copied them.
func markSnapshotting(tx store.Tx, snap *resource.Snapshot) error {
	if snap.ReplicationGroupID != "" {
		g, obj, err := getGroup(tx, snap.Region, snap.ReplicationGroupID)
		if err != nil {
			return err
		}
		g.Snapshotting = snap.Name
		if _, err := tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision); err != nil {
			return err
		}
	}
	for _, sh := range snap.Shards {
		c, obj, err := getRecord[resource.Cluster](tx, resource.KindCluster, resource.Key(snap.Region, sh.CacheClusterID), func() error {
			return api.CacheClusterNotFoundFault("CacheCluster not found: %s", sh.CacheClusterID)
		})
		if err != nil {
			return err
		}
		c.Snapshotting = snap.Name
		if _, err := tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision); err != nil {
			return err
		}
	}
	return nil
}

// clusterSnapshot describes a snapshot of one cache cluster (standalone, or one member of a cluster mode
// disabled group).
func (s *Service) clusterSnapshot(tx store.Tx, rg, id string) (*resource.Snapshot, error) {
	c, _, err := getRecord[resource.Cluster](tx, resource.KindCluster, resource.Key(rg, id), func() error {
		return api.CacheClusterNotFoundFault("CacheCluster not found: %s", id)
	})
	if err != nil {
		return nil, err
	}
	if err := snapshotSource(c); err != nil {
		return nil, err
	}
	if c.ClusterMode {
		return nil, api.InvalidParameterCombinationException("Cache cluster %s is a shard member of a cluster mode enabled replication group; snapshot the replication group %s.", c.ID, c.ReplicationGroupID)
	}
	snap := snapshotOf(c)
	snap.CacheClusterID, snap.SourceCreatedAt = c.ID, c.CreatedAt
	snap.Shards = []resource.SnapshotShard{{NodeGroupID: "0001", CacheClusterID: c.ID, CacheNodeID: c.Nodes[0].ID, NodeCreatedAt: c.Nodes[0].CreatedAt, PrimaryAZ: c.Nodes[0].AZ}}
	return snap, nil
}

// groupSnapshot describes a snapshot of a replication group: one file per node group, copied from the
// snapshotting member (a replica where the node group has one) or, fromPrimaries, from the primary.
func (s *Service) groupSnapshot(tx store.Tx, rg, id string, fromPrimaries bool) (*resource.Snapshot, error) {
	g, _, err := getGroup(tx, rg, id)
	if err != nil {
		return nil, err
	}
	if g.Status != resource.StatusAvailable || g.Snapshotting != "" {
		return nil, api.InvalidReplicationGroupStateFault("Replication group %s is not in available state (it is %s).", g.ID, groupStatus(g))
	}
	var snap *resource.Snapshot
	for _, ng := range g.NodeGroups {
		source := snapshottingMember(g, &ng)
		if fromPrimaries {
			source = ng.Primary()
		}
		obj, err := tx.Get(resource.KindCluster, resource.Key(rg, source))
		if err != nil {
			return nil, err
		}
		c, err := resource.Unmarshal[resource.Cluster](obj.Value)
		if err != nil {
			return nil, err
		}
		if err := snapshotSource(c); err != nil {
			return nil, err
		}
		if snap == nil {
			snap = snapshotOf(c)
		}
		sh := resource.SnapshotShard{
			NodeGroupID: ng.ID, CacheClusterID: c.ID, CacheNodeID: c.Nodes[0].ID, NodeCreatedAt: c.Nodes[0].CreatedAt,
			Slots: ng.Slots, ReplicaCount: len(ng.Members) - 1, PrimaryAZ: c.Nodes[0].AZ,
		}
		for _, m := range ng.Members {
			az := memberZone(tx, rg, m.ClusterID)
			if m.ClusterID == ng.Primary() && az != "" {
				sh.PrimaryAZ = az
			} else if m.ClusterID != ng.Primary() {
				sh.ReplicaAZs = append(sh.ReplicaAZs, az)
			}
		}
		snap.Shards = append(snap.Shards, sh)
	}
	snap.ReplicationGroupID, snap.ReplicationGroupDescription, snap.SourceCreatedAt = g.ID, g.Description, g.CreatedAt
	snap.NumCacheNodes, snap.ClusterEnabled, snap.Durability = 0, g.ClusterEnabled, g.Durability
	snap.AutomaticFailover = "disabled"
	if g.AutomaticFailover {
		snap.AutomaticFailover = "enabled"
	}
	snap.ParameterGroup, snap.NodeType, snap.EngineVersion = g.ParameterGroup, g.NodeType, g.EngineVersion
	snap.PreferredAZ, snap.Port, snap.AtRestEncryption, snap.KMSKeyID = "", g.PrimaryPort, g.AtRestEncryption, g.KMSKeyID
	if g.ClusterEnabled {
		snap.Port = g.ConfigPort
	}
	return snap, nil
}

// snapshotOf copies the settings a restore takes from a cluster.
func snapshotOf(c *resource.Cluster) *resource.Snapshot {
	return &resource.Snapshot{
		Region: c.Region, Engine: c.Engine, EngineVersion: c.EngineVersion, NodeType: c.NodeType,
		ParameterGroup: c.ParameterGroup, SubnetGroup: c.SubnetGroup, NumCacheNodes: len(c.Nodes), PreferredAZ: c.PreferredAZ,
		MaintenanceWindow: c.MaintenanceWindow, SnapshotWindow: c.SnapshotWindow, SnapshotRetentionLimit: c.SnapshotRetentionLimit,
		AutoMinorVersionUpgrade: c.AutoMinorVersionUpgrade, TopicARN: c.NotificationTopicARN, Port: c.Nodes[0].Port,
		AtRestEncryption: c.AtRestEncryption,
	}
}

// CopySnapshot makes a manual copy of an available snapshot under a new name; the controller copies its files.
func (s *Service) CopySnapshot(ctx context.Context, in *api.CopySnapshotMessage) (*api.CopySnapshotResult, error) {
	rg := region(ctx)
	source, target := strings.ToLower(deref(in.SourceSnapshotName)), strings.ToLower(deref(in.TargetSnapshotName))
	if err := validIdentifier("TargetSnapshotName", target, maxSnapshotNameLen); err != nil {
		return nil, err
	}
	if in.TargetBucket != nil {
		snap, err := s.exportSnapshot(ctx, rg, source, target, *in.TargetBucket)
		if err != nil {
			return nil, err
		}
		return &api.CopySnapshotResult{Snapshot: snap}, nil
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	var cp *resource.Snapshot
	err = s.store.Update(ctx, func(tx store.Tx) error {
		src, err := getSnapshot(tx, rg, source)
		if err != nil {
			return err
		}
		if src.Status != resource.SnapshotAvailable {
			return api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", source, src.Status)
		}
		if _, err := tx.Get(resource.KindSnapshot, resource.Key(rg, target)); err == nil {
			return api.SnapshotAlreadyExistsFault("Snapshot %s already exists.", target)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		copied := *src
		cp = &copied
		cp.Name, cp.UID, cp.Status, cp.Source, cp.CreatedAt = target, newUID(), resource.SnapshotCreating, "manual", s.now().UTC()
		cp.CopyOf, cp.Failures, cp.Tags = src.UID, 0, tags
		if in.KmsKeyId != nil {
			cp.KMSKeyID, cp.AtRestEncryption = *in.KmsKeyId, true // the controller seals the copy with it
		}
		cp.Shards = slices.Clone(src.Shards)
		for i := range cp.Shards {
			cp.Shards[i].Copied = false
		}
		_, err = tx.Create(resource.KindSnapshot, resource.Key(rg, target), resource.Marshal(cp))
		return err
	})
	if err != nil {
		return nil, faultOrInternal("copy snapshot", err)
	}
	return &api.CopySnapshotResult{Snapshot: s.renderSnapshot(cp, false)}, nil
}

// DescribeSnapshots lists the region's snapshots, by name, source cluster or group and origin, with Marker
// pagination.
func (s *Service) DescribeSnapshots(ctx context.Context, in *api.DescribeSnapshotsMessage) (*api.DescribeSnapshotsListMessage, error) {
	rg := region(ctx)
	max := 50
	if in.MaxRecords != nil {
		if *in.MaxRecords < 20 || *in.MaxRecords > 50 {
			return nil, api.InvalidParameterValueException("MaxRecords must be between 20 and 50.")
		}
		max = int(*in.MaxRecords)
	}
	source := ""
	switch strings.ToLower(deref(in.SnapshotSource)) {
	case "":
	case "user", "manual":
		source = "manual"
	case "system", "automated":
		source = "automated"
	default:
		return nil, api.InvalidParameterValueException("Invalid value %q for SnapshotSource: use user or system.", deref(in.SnapshotSource))
	}
	name := strings.ToLower(deref(in.SnapshotName))
	clusterID, groupID := strings.ToLower(deref(in.CacheClusterId)), strings.ToLower(deref(in.ReplicationGroupId))
	snaps, _, err := regionList[resource.Snapshot](ctx, s.view, "describe snapshots", resource.KindSnapshot, nil, nil)
	if err != nil {
		return nil, err
	}
	clusters, _, err := regionList[resource.Cluster](ctx, s.view, "describe snapshots", resource.KindCluster, nil, nil)
	if err != nil {
		return nil, err
	}
	uses := snapshotUses(snaps, clusters)
	var list []*resource.Snapshot
	for _, snap := range snaps {
		inCluster := clusterID == "" || snap.CacheClusterID == clusterID || slices.ContainsFunc(snap.Shards, func(sh resource.SnapshotShard) bool { return sh.CacheClusterID == clusterID })
		if snap.Region != rg || (name != "" && snap.Name != name) || !inCluster || (groupID != "" && snap.ReplicationGroupID != groupID) || (source != "" && snap.Source != source) {
			continue
		}
		list = append(list, snap)
	}
	if name != "" && len(list) == 0 {
		return nil, api.SnapshotNotFoundFault("Snapshot %s not found.", name)
	}
	if clusterID != "" && len(list) == 0 {
		if _, err := s.store.Get(ctx, resource.KindCluster, resource.Key(rg, clusterID)); errors.Is(err, store.ErrNotFound) {
			return nil, api.CacheClusterNotFoundFault("CacheCluster not found: %s", clusterID)
		} else if err != nil {
			return nil, internal("describe snapshots", err)
		}
	}
	out := &api.DescribeSnapshotsListMessage{}
	out.Snapshots, out.Marker = renderPage(list, func(s *resource.Snapshot) string { return s.Name }, in.Marker, max,
		func(snap *resource.Snapshot) api.Snapshot {
			out := s.renderSnapshot(snap, deref(in.ShowNodeGroupConfig))
			if use := uses[snap.UID]; use != "" && snap.Status == resource.SnapshotAvailable {
				out.SnapshotStatus = ptr(use)
			}
			return *out
		})
	return out, nil
}

// DeleteSnapshot marks an available (or failed) snapshot for deletion; the controller removes its files.
func (s *Service) DeleteSnapshot(ctx context.Context, in *api.DeleteSnapshotMessage) (*api.DeleteSnapshotResult, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.SnapshotName))
	var snap *resource.Snapshot
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var obj store.Object
		var err error
		snap, obj, err = getRecord[resource.Snapshot](tx, resource.KindSnapshot, resource.Key(rg, name), func() error {
			return api.SnapshotNotFoundFault("Snapshot %s not found.", name)
		})
		if err != nil {
			return err
		}
		if snap.Status != resource.SnapshotAvailable && snap.Status != resource.SnapshotFailed {
			return api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", name, snap.Status)
		}
		if use, err := snapshotUseIn(tx, snap); err != nil {
			return err
		} else if use != "" {
			return api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", name, use)
		}
		snap.Status = resource.SnapshotDeleting
		_, err = tx.Put(resource.KindSnapshot, obj.Key, resource.Marshal(snap), obj.Revision)
		return err
	})
	if err != nil {
		return nil, faultOrInternal("delete snapshot", err)
	}
	return &api.DeleteSnapshotResult{Snapshot: s.renderSnapshot(snap, false)}, nil
}

// renderSnapshot is the Snapshot shape; node group configuration only when asked for.
func (s *Service) renderSnapshot(snap *resource.Snapshot, nodeGroupConfig bool) *api.Snapshot {
	out := &api.Snapshot{
		ARN: ptr(s.arn(snap.Region, "snapshot", snap.Name)), SnapshotName: ptr(snap.Name), SnapshotStatus: ptr(snap.Status),
		SnapshotSource: ptr(snap.Source), Engine: ptr(snap.Engine), EngineVersion: ptr(snap.EngineVersion),
		CacheNodeType: ptr(snap.NodeType), CacheParameterGroupName: ptr(snap.ParameterGroup), Port: ptr(int32(cmp.Or(snap.Port, 6379))),
		SnapshotRetentionLimit: ptr(snap.SnapshotRetentionLimit), SnapshotWindow: ptr(snap.SnapshotWindow),
		PreferredMaintenanceWindow: ptr(snap.MaintenanceWindow), AutoMinorVersionUpgrade: ptr(snap.AutoMinorVersionUpgrade),
		CacheClusterCreateTime: ptr(snap.SourceCreatedAt), DataTiering: ptr("disabled"), VpcId: ptr(s.vpcID()),
		NodeSnapshots: []api.NodeSnapshot{},
	}
	out.CacheSubnetGroupName, out.TopicArn, out.KmsKeyId = optional(snap.SubnetGroup), optional(snap.TopicARN), optional(snap.KMSKeyID)
	if snap.ReplicationGroupID != "" {
		out.ReplicationGroupId, out.ReplicationGroupDescription = ptr(snap.ReplicationGroupID), ptr(snap.ReplicationGroupDescription)
		out.NumNodeGroups, out.AutomaticFailover = ptr(int32(len(snap.Shards))), ptr(snap.AutomaticFailover)
		durability := snap.Durability
		if durability == "" {
			durability = "default"
		}
		out.Durability = ptr(durability)
	} else {
		out.CacheClusterId, out.NumCacheNodes, out.PreferredAvailabilityZone = ptr(snap.CacheClusterID), ptr(int32(snap.NumCacheNodes)), ptr(snap.PreferredAZ)
	}
	for _, sh := range snap.Shards {
		ns := api.NodeSnapshot{CacheClusterId: ptr(sh.CacheClusterID), CacheNodeId: ptr(sh.CacheNodeID), CacheNodeCreateTime: ptr(sh.NodeCreatedAt), CacheSize: ptr("")}
		if sh.Copied {
			ns.CacheSize, ns.SnapshotCreateTime = ptr(cacheSize(sh.Size)), ptr(sh.CopiedAt)
		}
		if snap.ReplicationGroupID != "" {
			ns.NodeGroupId = ptr(sh.NodeGroupID)
		}
		if nodeGroupConfig && snap.ReplicationGroupID != "" {
			cfg := &api.NodeGroupConfiguration{NodeGroupId: ptr(sh.NodeGroupID), ReplicaCount: ptr(int32(sh.ReplicaCount))}
			if sh.Slots != "" {
				cfg.Slots = ptr(sh.Slots)
			}
			if sh.PrimaryAZ != "" {
				cfg.PrimaryAvailabilityZone = ptr(sh.PrimaryAZ)
			}
			cfg.ReplicaAvailabilityZones = slices.Clone(sh.ReplicaAZs)
			ns.NodeGroupConfiguration = cfg
		}
		out.NodeSnapshots = append(out.NodeSnapshots, ns)
	}
	return out
}

// snapshottingMember is the member of node group ng that snapshots are copied from: the one
// SnapshottingClusterId names, else the last replica, else the primary.
func snapshottingMember(g *resource.ReplicationGroup, ng *resource.NodeGroup) string {
	if id := g.SnapshottingClusterID; id != "" && slices.ContainsFunc(ng.Members, func(m resource.Member) bool { return m.ClusterID == id }) {
		return id
	}
	if replicas := replicasOf(ng); len(replicas) > 0 {
		return replicas[len(replicas)-1]
	}
	return ng.Primary()
}

// restoreVersion gives a restore from snapshot name (nil: not a restore) that names no engine version the
// version the snapshot was taken on, as ElastiCache does; a missing snapshot, or one of another engine
// than eng, is left for the creation to report.
func (s *Service) restoreVersion(ctx context.Context, rg string, name, eng *string, version **string) {
	if name == nil || *version != nil {
		return
	}
	snap, _, err := resource.Load[resource.Snapshot](ctx, s.store, resource.KindSnapshot, resource.Key(rg, strings.ToLower(*name)))
	if err == nil && (eng == nil || strings.EqualFold(*eng, snap.Engine)) {
		*version = ptr(snap.EngineVersion)
	}
}

// Snapshot statuses that say what an available snapshot's files are being used for.
const (
	snapshotCopying   = "copying"
	snapshotRestoring = "restoring"
)

// snapshotUses maps the UID of each snapshot whose files are in use to what uses them: "restoring" while a
// cluster being created loads them, "copying" while a CopySnapshot reads them (which it says first).
func snapshotUses(snaps []*resource.Snapshot, clusters []*resource.Cluster) map[string]string {
	uses := map[string]string{}
	for _, c := range clusters {
		if !c.Loading() {
			continue
		}
		for _, f := range c.SeedFiles() { // "<snapshot UID>/<file>"
			uid, _, _ := strings.Cut(f.Path, "/")
			uses[uid] = snapshotRestoring
		}
	}
	for _, o := range snaps {
		if o.CopyOf != "" && o.Status == resource.SnapshotCreating {
			uses[o.CopyOf] = snapshotCopying
		}
	}
	return uses
}

// snapshotUseIn is what uses the files of snapshot snap now (see snapshotUses), inside a transaction.
func snapshotUseIn(tx store.Tx, snap *resource.Snapshot) (string, error) {
	snaps, err := resource.List[resource.Snapshot](tx, resource.KindSnapshot)
	if err != nil {
		return "", err
	}
	clusters, err := loadClusters(tx)
	if err != nil {
		return "", err
	}
	return snapshotUses(snaps, clusters)[snap.UID], nil
}

// memberZone is the Availability Zone of member cluster id's node ("" when it cannot be read).
func memberZone(tx store.Tx, rg, id string) string {
	c, _, err := resource.Get[resource.Cluster](tx, resource.KindCluster, resource.Key(rg, id))
	if err != nil || len(c.Nodes) == 0 {
		return ""
	}
	return c.Nodes[0].AZ
}

// cacheSize renders a snapshot file's size as ElastiCache does ("3 MB").
func cacheSize(bytes int64) string {
	return fmt.Sprintf("%d MB", (bytes+(1<<20)-1)>>20)
}

// getSnapshot reads snapshot name inside a transaction; a missing one is SnapshotNotFoundFault.
func getSnapshot(tx store.Tx, rg, name string) (*resource.Snapshot, error) {
	snap, _, err := getRecord[resource.Snapshot](tx, resource.KindSnapshot, resource.Key(rg, name), func() error {
		return api.SnapshotNotFoundFault("Snapshot %s not found.", name)
	})
	return snap, err
}

// restoreFiles checks that snap (stored, or described by importSnapshot) can be restored into shards node
// groups of clusters like c: available, of a compatible engine no newer than c's, with as many node groups
// (or, with merge, any number into one node), fitting in c's node type. It returns the files.
func restoreFiles(snap *resource.Snapshot, c *resource.Cluster, shards int, merge bool) ([]resource.SeedFile, error) {
	var size int64
	for _, sh := range snap.Shards {
		size += sh.Size
	}
	imported := snap.Engine == "" // checked against the engine by importSnapshot
	switch {
	case snap.Status != resource.SnapshotAvailable:
		return nil, api.InvalidSnapshotStateFault("Snapshot %s is not in available state (it is %s).", snap.Name, snap.Status)
	case !imported && snap.Engine == engine.EngineValkey && c.Engine != engine.EngineValkey:
		return nil, api.InvalidParameterCombinationException("Snapshot %s holds %s data, which %s cannot load.", snap.Name, snap.Engine, c.Engine)
	case !imported && snap.Engine == c.Engine && engine.CompareVersions(c.EngineVersion, snap.EngineVersion) < 0:
		return nil, api.InvalidParameterCombinationException("Snapshot %s was taken on %s %s; it cannot be restored into the older version %s.", snap.Name, snap.Engine, snap.EngineVersion, c.EngineVersion)
	case merge && shards == 1: // several node groups' keys merge into one node
	case imported && len(snap.Shards) != shards:
		return nil, api.InvalidParameterCombinationException("SnapshotArns names %d RDB files; a restore into %d node groups takes %d (a cluster mode enabled group may take one file, or files exported by ecache, and reshards).", len(snap.Shards), shards, shards)
	case len(snap.Shards) != shards:
		return nil, api.InvalidParameterCombinationException("Snapshot %s has %d node groups; restoring it into %d is not available on this ecache host yet.", snap.Name, len(snap.Shards), shards)
	}
	if size > engine.MemoryLimit(c.NodeType, c.Engine, 25) {
		return nil, api.InvalidParameterCombinationException("Snapshot %s holds %d bytes, more than node type %s can hold.", snap.Name, size, c.NodeType)
	}
	var out []resource.SeedFile
	for _, sh := range snap.Shards {
		out = append(out, resource.SeedFile{Path: snap.UID + "/" + sh.File(), Object: sh.Object, Snapshot: snap.Name})
	}
	return out, nil
}

// clusterStatus is the status a cluster shows: snapshotting while a snapshot is copied from it.
func clusterStatus(c *resource.Cluster) string {
	if c.Incompatible != "" && c.Status != resource.StatusDeleting {
		return resource.StatusIncompatibleParameters
	}
	if c.Status == resource.StatusAvailable && c.Snapshotting != "" {
		return resource.StatusSnapshotting
	}
	return c.Status
}

// groupStatus is the status a replication group shows: snapshotting while a snapshot of it is taken.
func groupStatus(g *resource.ReplicationGroup) string {
	if g.Status == resource.StatusAvailable && g.Snapshotting != "" {
		return resource.StatusSnapshotting
	}
	return g.Status
}

// clusterAvailable refuses a change to a cluster that does not show available.
func clusterAvailable(c *resource.Cluster) error {
	if st := clusterStatus(c); st != resource.StatusAvailable {
		return api.InvalidCacheClusterStateFault("Cache cluster %s is not in available state (it is %s).", c.ID, st)
	}
	return nil
}

// clusterDeletable refuses to delete a cluster that is neither available nor stuck on parameters its
// engine refuses or a failed restore (those can always be deleted, as on ElastiCache).
func clusterDeletable(c *resource.Cluster) error {
	if (c.Incompatible != "" && c.Status != resource.StatusDeleting) || c.Status == resource.StatusRestoreFailed {
		return nil
	}
	return clusterAvailable(c)
}

// groupAvailable refuses a change to a replication group that does not show available.
func groupAvailable(g *resource.ReplicationGroup) error {
	if st := groupStatus(g); st != resource.StatusAvailable {
		return api.InvalidReplicationGroupStateFault("Replication group %s is not in available state (it is %s).", g.ID, st)
	}
	return nil
}

// restoreSlots gives the planned node groups of a cluster mode restore from a cluster mode snapshot the slots
// their files hold keys for; slots the request sets must be the same.
func restoreSlots(snap *resource.Snapshot, shards []plannedShard, asked []api.NodeGroupConfiguration) error {
	for i := range shards {
		want := snap.Shards[i].Slots
		if shards[i].slots == "" || want == "" {
			continue // cluster mode disabled on one side: one node group with every key
		}
		if i < len(asked) && asked[i].Slots != nil && *asked[i].Slots != want {
			return api.InvalidParameterCombinationException("Node group %d asks for slots %s, but its file of snapshot %s holds slots %s; restoring into other slots is not available on this ecache host yet.", i+1, *asked[i].Slots, snap.Name, want)
		}
		shards[i].slots = want
	}
	return nil
}

// reshardRestore turns a group just created from a snapshot with the snapshot's node groups into one with
// want node groups: the controller forms the cluster as the snapshot had it, then moves slots with their keys
// to the new node groups (or drains the last ones) before the group becomes available. The group, stored in
// tx already, is written again.
func (s *Service) reshardRestore(tx store.Tx, g *resource.ReplicationGroup, want int, now time.Time) error {
	obj, err := tx.Get(resource.KindReplicationGroup, resource.Key(g.Region, g.ID))
	if err != nil {
		return err
	}
	var remove []string
	for i := want; i < len(g.NodeGroups); i++ {
		remove = append(remove, g.NodeGroups[i].ID)
	}
	replicas := len(g.NodeGroups[0].Members) - 1
	if err := s.addNodeGroups(tx, g, max(want-len(g.NodeGroups), 0), replicas, nil); err != nil {
		return err
	}
	if err := beginResharding(g, want, remove, now); err != nil {
		return err
	}
	g.Status = resource.StatusCreating
	_, err = tx.Put(resource.KindReplicationGroup, obj.Key, resource.Marshal(g), obj.Revision)
	return err
}
