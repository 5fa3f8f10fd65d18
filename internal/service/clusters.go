package service

import (
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
	"github.com/ecache/ecache/internal/view"
)

const (
	maxClusterIDLen      = 50
	defaultRedisPort     = 6379
	defaultMemcachedPort = 11211
)

// clusterSpec is a validated CreateCacheCluster request.
type clusterSpec struct {
	c       resource.Cluster
	version engine.Version
	nodes   int
	azs     []string
	// azsGiven says the request named the Availability Zones; otherwise ecache picked them.
	azsGiven bool
}

// CreateCacheCluster validates the request, reserves ports and records a cluster in "creating";
// the controller starts its engines.
func (s *Service) CreateCacheCluster(ctx context.Context, in *api.CreateCacheClusterMessage) (*api.CreateCacheClusterResult, error) {
	if in.ReplicationGroupId != nil {
		return s.addReplicaCluster(ctx, in)
	}
	if len(in.SnapshotArns) > 1 {
		return nil, api.InvalidParameterValueException("SnapshotArns of CreateCacheCluster is a single-element list (%d given); CreateReplicationGroup restores several files.", len(in.SnapshotArns))
	}
	rg := region(ctx)
	s.restoreVersion(ctx, rg, in.SnapshotName, in.Engine, &in.EngineVersion)
	spec, err := s.validateCreateCluster(rg, in)
	if err != nil {
		return nil, err
	}
	c := &spec.c
	var imported *resource.Snapshot
	if in.SnapshotArns != nil {
		if imported, err = s.importSnapshot(ctx, in.SnapshotArns, c.Engine, spec.version.BinaryVersion); err != nil {
			return nil, err
		}
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(resource.KindCluster, resource.Key(rg, c.ID)); err == nil {
			return api.CacheClusterAlreadyExistsFault("Cache cluster %s already exists.", c.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := s.checkReferences(tx, rg, c, spec.version); err != nil {
			return err
		}
		at, err := s.placement(tx, rg, c.SubnetGroup)
		if err != nil {
			return err
		}
		if spec.azs, err = at.fit(spec.azs, spec.azsGiven); err != nil {
			return err
		}
		c.Zones = at.zones
		c.PreferredAZ = preferredZone(spec.azs)
		snap := imported
		if name := deref(in.SnapshotName); name != "" {
			if snap, err = getSnapshot(tx, rg, strings.ToLower(name)); err != nil {
				return err
			}
		}
		if snap != nil {
			seeds, err := restoreFiles(snap, c, 1, true)
			if err != nil {
				return err
			}
			c.SeedSnapshot, c.SeedObject, c.SeedName, c.MergeFiles = seeds[0].Path, seeds[0].Object, seeds[0].Snapshot, seeds[1:]
		}
		all, err := loadClusters(tx)
		if err != nil {
			return err
		}
		if err := s.checkQuotas(all, rg, spec.nodes); err != nil {
			return err
		}
		ports, err := s.allocatePorts(tx, spec.nodes+boolInt(c.Engine == engine.EngineMemcached))
		if err != nil {
			return err
		}
		now := s.now().UTC()
		c.CreatedAt = now
		for i := range spec.nodes {
			c.Nodes = append(c.Nodes, resource.Node{
				ID: fmt.Sprintf("%04d", i+1), Status: resource.NodeCreating, CreatedAt: now, Port: ports[i], AZ: spec.azs[i],
			})
			c.Nodes[i].Place(c.OwnAddresses, c.Port)
		}
		if c.Engine == engine.EngineMemcached {
			c.ConfigPort = ports[spec.nodes]
		}
		if _, err = tx.Create(resource.KindCluster, resource.Key(rg, c.ID), resource.Marshal(c)); err != nil {
			return err
		}
		return restoreStarted(tx, c, now)
	})
	if err != nil {
		return nil, faultOrInternal("create cache cluster", err)
	}
	if !spec.version.Exact {
		s.logger.Info("engine version served by a nearby binary", "cluster", c.ID, "requested", c.EngineVersion,
			"binary", spec.version.Binary, "binary_version", spec.version.BinaryVersion)
	}
	return &api.CreateCacheClusterResult{CacheCluster: s.renderCluster(c, true)}, nil
}

// preferredZone is a cluster's PreferredAvailabilityZone: its nodes' one zone, or "Multiple".
func preferredZone(azs []string) string {
	for _, az := range azs {
		if az != azs[0] {
			return "Multiple"
		}
	}
	return azs[0]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) validateCreateCluster(rg string, in *api.CreateCacheClusterMessage) (*clusterSpec, error) {
	id := strings.ToLower(deref(in.CacheClusterId))
	if err := validIdentifier("CacheClusterIdentifier", id, maxClusterIDLen); err != nil {
		return nil, err
	}
	eng := strings.ToLower(deref(in.Engine))
	if eng == "" {
		return nil, api.InvalidParameterValueException("The parameter Engine must be provided.")
	}
	if !slices.Contains(engine.Engines(), eng) {
		return nil, api.InvalidParameterValueException("Invalid value %q for Engine. Valid values: memcached, redis, valkey.", deref(in.Engine))
	}
	memcached := eng == engine.EngineMemcached
	version, err := s.resolveVersion(eng, deref(in.EngineVersion))
	if err != nil {
		return nil, err
	}
	nodeType := deref(in.CacheNodeType)
	if nodeType == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheNodeType must be provided.")
	}
	nt, ok := engine.NodeType(nodeType)
	if !ok {
		return nil, api.InvalidParameterValueException("Invalid CacheNodeType: %s.", nodeType)
	}
	if nt.Generation != engine.GenerationCurrent {
		return nil, api.InvalidParameterValueException("CacheNodeType %s is a previous generation node type; creating new clusters with it is not supported.", nodeType)
	}
	if !nt.SupportsEngine(eng, version.EngineVersion) {
		return nil, api.InvalidParameterCombinationException("CacheNodeType %s does not support %s version %s.", nodeType, eng, version.EngineVersion)
	}
	if nt.DataTiering {
		return nil, api.InvalidParameterCombinationException("CacheNodeType %s uses data tiering, which only replication groups with DataTieringEnabled have.", nodeType)
	}

	nodes := int(deref(in.NumCacheNodes))
	if in.NumCacheNodes == nil {
		nodes = 1
	}
	switch {
	case !memcached && nodes != 1:
		return nil, api.InvalidParameterValueException("NumCacheNodes must be 1 for the %s engine.", eng)
	case nodes < 1:
		return nil, api.InvalidParameterValueException("NumCacheNodes must be between 1 and %d for the memcached engine.", s.cfg.Quotas.NodesPerCluster)
	case nodes > s.cfg.Quotas.NodesPerCluster:
		return nil, api.NodeQuotaForClusterExceededFault("Cluster node quota exceeded. Each cluster can have at most %d nodes in this region.", s.cfg.Quotas.NodesPerCluster)
	}

	// Memcached-only and Redis/Valkey-only parameters.
	if !memcached {
		switch {
		case in.AZMode != nil:
			return nil, api.InvalidParameterCombinationException("AZMode is only supported for Memcached clusters.")
		case in.PreferredAvailabilityZones != nil:
			return nil, api.InvalidParameterCombinationException("PreferredAvailabilityZones is only supported for Memcached clusters.")
		}
	} else {
		for _, p := range []struct {
			name string
			set  bool
		}{
			{"SnapshotArns", in.SnapshotArns != nil}, {"SnapshotName", in.SnapshotName != nil},
			{"SnapshotRetentionLimit", in.SnapshotRetentionLimit != nil}, {"SnapshotWindow", in.SnapshotWindow != nil},
			{"AuthToken", in.AuthToken != nil}, {"LogDeliveryConfigurations", len(in.LogDeliveryConfigurations) > 0},
		} {
			if p.set {
				return nil, api.InvalidParameterCombinationException("%s is only valid for the redis and valkey engines.", p.name)
			}
		}
	}
	azs, azMode, preferredAZ, err := placeNodes(rg, in, nodes)
	if err != nil {
		return nil, err
	}

	c := resource.Cluster{
		Region: rg, ID: id, UID: newUID(), Engine: eng, EngineVersion: version.EngineVersion, NodeType: nodeType,
		Status: resource.StatusCreating, ParameterApplyStatus: "in-sync", AZMode: azMode, PreferredAZ: preferredAZ,
		AutoMinorVersionUpgrade: in.AutoMinorVersionUpgrade == nil || *in.AutoMinorVersionUpgrade,
		CacheParameterGroupHint: deref(in.CacheParameterGroupName),
	}
	if err := s.applyCreateOptions(rg, in, &c, memcached); err != nil {
		return nil, err
	}
	return &clusterSpec{c: c, version: version, nodes: nodes, azs: azs, azsGiven: in.PreferredAvailabilityZone != nil || in.PreferredAvailabilityZones != nil}, nil
}

// validAZ reports whether az names an Availability Zone of region rg: the region plus a letter a-f.
func validAZ(rg, az string) bool {
	return len(az) == len(rg)+1 && strings.HasPrefix(az, rg) && az[len(rg)] >= 'a' && az[len(rg)] <= 'f'
}

// placeNodes assigns an Availability Zone to every node (AZ names are the region plus a letter).
func placeNodes(rg string, in *api.CreateCacheClusterMessage, nodes int) (azs []string, mode, preferred string, err error) {
	if in.PreferredAvailabilityZone != nil && in.PreferredAvailabilityZones != nil {
		return nil, "", "", api.InvalidParameterCombinationException("Specify either PreferredAvailabilityZone or PreferredAvailabilityZones, not both.")
	}
	mode = deref(in.AZMode)
	if in.PreferredAvailabilityZones != nil {
		if len(in.PreferredAvailabilityZones) != nodes {
			return nil, "", "", api.InvalidParameterValueException("The number of PreferredAvailabilityZones (%d) must equal NumCacheNodes (%d).", len(in.PreferredAvailabilityZones), nodes)
		}
		for _, az := range in.PreferredAvailabilityZones {
			if !validAZ(rg, az) {
				return nil, "", "", api.InvalidParameterValueException("Invalid Availability Zone %q for region %s.", az, rg)
			}
		}
		azs = slices.Clone(in.PreferredAvailabilityZones)
	} else {
		az := deref(in.PreferredAvailabilityZone)
		if az == "" {
			az = rg + "a"
		} else if !validAZ(rg, az) {
			return nil, "", "", api.InvalidParameterValueException("Invalid Availability Zone %q for region %s.", az, rg)
		}
		for i := range nodes {
			if mode == "cross-az" {
				azs = append(azs, fmt.Sprintf("%s%c", rg, 'a'+i%3))
			} else {
				azs = append(azs, az)
			}
		}
	}
	if mode == "cross-az" && nodes < 2 {
		return nil, "", "", api.InvalidParameterValueException("AZMode cross-az requires at least two cache nodes.")
	}
	preferred = azs[0]
	for _, az := range azs {
		if az != preferred {
			preferred = "Multiple"
			if mode == "" {
				mode = "cross-az"
			}
		}
	}
	if mode == "single-az" && preferred == "Multiple" {
		return nil, "", "", api.InvalidParameterCombinationException("AZMode single-az places every node in one Availability Zone, but PreferredAvailabilityZones names several.")
	}
	if mode == "" && in.NumCacheNodes != nil && in.PreferredAvailabilityZones != nil {
		mode = "single-az"
	}
	if mode == "" && in.NumCacheNodes != nil && deref(in.Engine) == engine.EngineMemcached {
		mode = "single-az"
	}
	return azs, mode, preferred, nil
}

// applyCreateOptions validates and records the optional settings of CreateCacheCluster.
func (s *Service) applyCreateOptions(rg string, in *api.CreateCacheClusterMessage, c *resource.Cluster, memcached bool) error {
	maint, snap, err := createWindows(rg, in.PreferredMaintenanceWindow, in.SnapshotWindow, memcached)
	if err != nil {
		return err
	}
	c.MaintenanceWindow = maint
	if !memcached {
		c.SnapshotWindow = snap
		if n := deref(in.SnapshotRetentionLimit); n < 0 || n > 35 {
			return api.InvalidParameterValueException("SnapshotRetentionLimit must be between 0 and 35 days.")
		}
		c.SnapshotRetentionLimit = deref(in.SnapshotRetentionLimit)
	}
	if in.Port != nil && (*in.Port < 1 || *in.Port > 65535) {
		return api.InvalidParameterValueException("Invalid Port %d: it must be between 1 and 65535.", *in.Port)
	}
	if err := validTransit(in, c, memcached, c.EngineVersion, s.now().UTC()); err != nil {
		return err
	}
	if in.SnapshotName != nil && in.SnapshotArns != nil {
		return api.InvalidParameterCombinationException("Specify either SnapshotName or SnapshotArns, not both.")
	}
	if in.SnapshotArns != nil {
		if err := validSnapshotARNs(in.SnapshotArns); err != nil {
			return err
		}
	}
	if (in.SnapshotName != nil || in.SnapshotArns != nil) && memcached {
		return api.InvalidParameterCombinationException("SnapshotName and SnapshotArns apply to the redis and valkey engines only.")
	}
	if nt, err := s.validTopic(in.NotificationTopicArn); err != nil {
		return err
	} else if nt != "" {
		c.NotificationTopicARN, c.NotificationTopicStatus = nt, "active"
	}
	if err := validOutposts(in, c); err != nil {
		return err
	}
	logs, err := validLogDelivery(in.LogDeliveryConfigurations)
	if err != nil {
		return err
	}
	c.LogDelivery = logs
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return err
	}
	c.Tags = tags
	if c.NetworkType, c.IPDiscovery, err = networkSettings(c.Engine, c.EngineVersion, c.NodeType, deref(in.NetworkType), deref(in.IpDiscovery)); err != nil {
		return err
	}
	if in.CacheSecurityGroupNames != nil && (in.CacheSubnetGroupName != nil || in.SecurityGroupIds != nil) {
		return api.InvalidParameterCombinationException("CacheSecurityGroupNames can only be used outside a VPC, without CacheSubnetGroupName or SecurityGroupIds.")
	}
	c.SecurityGroupNames = lowerAll(in.CacheSecurityGroupNames)
	c.SecurityGroupIDs = slices.Clone(in.SecurityGroupIds)
	if err := validSecurityGroupIDs(c.SecurityGroupIDs); err != nil {
		return err
	}
	if c.SecurityGroupNames == nil {
		c.SubnetGroup = subnetGroupName(in.CacheSubnetGroupName)
	}
	port := int(deref(in.Port))
	if port == 0 {
		port = defaultRedisPort
		if memcached {
			port = defaultMemcachedPort
		}
	}
	if s.ownAddresses(c, port) {
		c.OwnAddresses, c.Port = true, port
	}
	return nil
}

// ownAddresses reports whether the nodes of c, about to be created, get addresses of their own, where they
// listen on port: IPv4, and port free at an own address (a program listening on it at every address,
// 0.0.0.0, leaves the node range's ports). A node with in-transit encryption there presents a certificate of
// its own, naming its address.
func (s *Service) ownAddresses(c *resource.Cluster, port int) bool {
	return s.cfg.OwnAddresses && c.NetworkType == resource.NetworkIPv4 &&
		s.cfg.AddressFree(resource.SlotAddress(0), port) // slot 0 is never a node's
}

// withPending is a request that applies immediately and takes with it what earlier requests left for the
// maintenance window (engine version and node type, unless it changes them itself), as ElastiCache's
// ApplyImmediately does: "the modifications in this request and any pending modifications".
func withPending(c *resource.Cluster, in *api.ModifyCacheClusterMessage) *api.ModifyCacheClusterMessage {
	if c.Pending.EngineVersion == "" && c.Pending.NodeType == "" && c.Pending.ParameterGroup == "" {
		return in
	}
	out := *in
	if out.EngineVersion == nil && c.Pending.EngineVersion != "" {
		out.EngineVersion = ptr(c.Pending.EngineVersion)
	}
	if out.CacheNodeType == nil && c.Pending.NodeType != "" {
		out.CacheNodeType = ptr(c.Pending.NodeType)
	}
	if out.CacheParameterGroupName == nil && c.Pending.ParameterGroup != "" {
		out.CacheParameterGroupName = ptr(c.Pending.ParameterGroup)
	}
	c.Pending.EngineVersion, c.Pending.NodeType, c.Pending.ParameterGroup = "", "", ""
	return &out
}

// modifyWindows sets new maintenance and snapshot windows (nil: unchanged), which must not meet; a
// Memcached cluster's snapshot window is refused by the caller.
func modifyWindows(c *resource.Cluster, maintenance, snapshot *string, memcached bool) error {
	if maintenance != nil {
		_, norm, err := parseMaintenanceWindow(*maintenance)
		if err != nil {
			return err
		}
		c.MaintenanceWindow = norm
	}
	if memcached {
		return nil
	}
	if snapshot != nil {
		if _, _, err := parseSnapshotWindow(*snapshot); err != nil {
			return err
		}
		c.SnapshotWindow = *snapshot
	}
	if maintenance != nil || snapshot != nil {
		mw, _, _ := parseMaintenanceWindow(c.MaintenanceWindow)
		if start, length, err := parseSnapshotWindow(c.SnapshotWindow); err == nil && windowsOverlap(mw, start, length) {
			return api.InvalidParameterCombinationException("The snapshot window %s overlaps with the maintenance window %s.", c.SnapshotWindow, c.MaintenanceWindow)
		}
	}
	return nil
}

// validSecurityGroupIDs checks VPC security group ids: sg- and the rest of the id.
func validSecurityGroupIDs(ids []string) error {
	for _, sg := range ids {
		if !strings.HasPrefix(sg, "sg-") || len(sg) < 4 {
			return api.InvalidParameterValueException("Invalid security group id %q.", sg)
		}
	}
	return nil
}

// checkSecurityGroupNames refuses cache security group names that do not exist in region rg.
func checkSecurityGroupNames(tx store.Tx, rg string, names []string) error {
	for _, sg := range names {
		if sg == "default" {
			continue
		}
		if _, err := tx.Get(resource.KindSecurityGroup, resource.Key(rg, sg)); errors.Is(err, store.ErrNotFound) {
			return api.CacheSecurityGroupNotFoundFault("CacheSecurityGroup not found: %s", sg)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func subnetGroupName(p *string) string {
	if p == nil || *p == "" {
		return "default"
	}
	return strings.ToLower(*p)
}

func lowerAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// createWindows gives a new cluster's maintenance and snapshot windows: the ones asked for (which must not
// meet), and where one is not given, the region's default moved clear of the other, as ElastiCache picks
// them. Memcached has no snapshot window: its SnapshotWindow is ignored.
func createWindows(rg string, maintenance, snapshot *string, memcached bool) (maint, snap string, err error) {
	maint, snap = defaultWindows(rg)
	mw, _, _ := parseMaintenanceWindow(maint)
	if maintenance != nil {
		if mw, maint, err = parseMaintenanceWindow(*maintenance); err != nil {
			return "", "", err
		}
	}
	if memcached {
		return maint, snap, nil
	}
	if snapshot == nil {
		return maint, snapshotAvoiding(mw, snap), nil
	}
	start, length, err := parseSnapshotWindow(*snapshot)
	if err != nil {
		return "", "", err
	}
	if maintenance == nil {
		if moved, ok := maintenanceAvoiding(mw, start, length); ok {
			mw, maint = moved, formatWeekly(moved)
		}
	}
	if windowsOverlap(mw, start, length) {
		return "", "", api.InvalidParameterCombinationException("The snapshot window %s overlaps with the maintenance window %s.", *snapshot, maint)
	}
	return maint, *snapshot, nil
}

// maintenanceAvoiding moves a default maintenance window later by half hours, up to a day, until it no
// longer meets the daily snapshot window; ok is false when no time of day is clear of it.
func maintenanceAvoiding(mw window, snapStart, snapLen int) (window, bool) {
	for shift := 0; shift < 24*60; shift += 30 {
		w := window{(mw.start + shift) % minutesPerWeek, mw.length}
		if !windowsOverlap(w, snapStart, snapLen) {
			return w, true
		}
	}
	return mw, false
}

// formatWeekly writes a weekly window as ddd:hh24:mi-ddd:hh24:mi.
func formatWeekly(w window) string {
	end := (w.start + w.length) % minutesPerWeek
	return fmt.Sprintf("%s:%s-%s:%s", weekdays[w.start/(24*60)], formatClock(w.start), weekdays[end/(24*60)], formatClock(end))
}

// validTopic checks a NotificationTopicArn: an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)
// whose owner is this account, as ElastiCache requires. Empty: none.
func (s *Service) validTopic(arn *string) (string, error) {
	nt := deref(arn)
	if nt == "" {
		return "", nil
	}
	parts := strings.Split(nt, ":")
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "sns" || parts[3] == "" || parts[5] == "" {
		return "", api.InvalidParameterValueException("Invalid NotificationTopicArn %q.", nt)
	}
	if parts[4] != s.cfg.AccountID {
		return "", api.InvalidParameterValueException("The Amazon SNS topic owner must be the same as the cluster owner: topic %s belongs to account %s, not %s.", nt, parts[4], s.cfg.AccountID)
	}
	return nt, nil
}

// snapshotAvoiding keeps the default snapshot window unless it meets the maintenance window.
func snapshotAvoiding(mw window, snap string) string {
	for shift := 0; shift < 24*60; shift += 60 {
		start, length, _ := parseSnapshotWindow(snap)
		if !windowsOverlap(mw, (start+shift)%(24*60), length) {
			return formatClock(start+shift) + "-" + formatClock(start+shift+length)
		}
	}
	return snap
}

// validTransit applies the AuthToken and in-transit encryption rules and records them on c.
func validTransit(in *api.CreateCacheClusterMessage, c *resource.Cluster, memcached bool, version string, now time.Time) error {
	transit := deref(in.TransitEncryptionEnabled)
	if in.AuthToken != nil {
		if !transit {
			return api.InvalidParameterValueException("The AUTH token is only supported when encryption in transit is enabled.")
		}
		if err := validAuthToken(*in.AuthToken); err != nil {
			return err
		}
	}
	if !transit {
		return nil
	}
	if memcached && engine.CompareVersions(version, "1.6.12") < 0 {
		return api.InvalidParameterCombinationException("In-transit encryption requires Memcached 1.6.12 or later; the cluster would run %s.", version)
	}
	if in.CacheSecurityGroupNames != nil {
		return api.InvalidParameterCombinationException("Encryption in transit is only available for clusters in a VPC (with a cache subnet group), not with CacheSecurityGroupNames.")
	}
	c.TransitEncryption = true
	if in.AuthToken != nil {
		c.AuthToken = *in.AuthToken
		c.AuthTokenUpdatedAt = &now
	}
	return nil
}

// validOutposts checks the Outposts parameters; nodes still run on this host.
func validOutposts(in *api.CreateCacheClusterMessage, c *resource.Cluster) error {
	if in.PreferredOutpostArn == nil && in.PreferredOutpostArns == nil && in.OutpostMode == nil {
		return nil
	}
	for _, a := range append([]string{deref(in.PreferredOutpostArn)}, in.PreferredOutpostArns...) {
		if a != "" && !strings.HasPrefix(a, "arn:aws:outposts:") {
			return api.InvalidParameterValueException("Invalid Outpost ARN %q.", a)
		}
	}
	if in.OutpostMode != nil && in.PreferredOutpostArn == nil && len(in.PreferredOutpostArns) == 0 {
		return api.InvalidParameterCombinationException("OutpostMode requires PreferredOutpostArn or PreferredOutpostArns.")
	}
	if deref(in.OutpostMode) == "cross-outpost" && len(in.PreferredOutpostArns) < 2 {
		return api.InvalidParameterValueException("OutpostMode cross-outpost requires PreferredOutpostArns with at least two Outposts.")
	}
	c.OutpostMode = deref(in.OutpostMode)
	c.PreferredOutpostARN = deref(in.PreferredOutpostArn)
	if c.PreferredOutpostARN == "" && len(in.PreferredOutpostArns) > 0 {
		c.PreferredOutpostARN = in.PreferredOutpostArns[0]
	}
	return nil
}

// validLogDelivery checks log delivery configurations: one per log type, destination details matching the type.
func validLogDelivery(reqs []api.LogDeliveryConfigurationRequest) ([]resource.LogDelivery, error) {
	var out []resource.LogDelivery
	for _, r := range reqs {
		if deref(r.Enabled) == false && r.Enabled != nil {
			continue
		}
		ld := resource.LogDelivery{LogType: deref(r.LogType), DestinationType: deref(r.DestinationType), LogFormat: deref(r.LogFormat)}
		if ld.LogType == "" || ld.DestinationType == "" || ld.LogFormat == "" {
			return nil, api.InvalidParameterValueException("LogDeliveryConfigurations require LogType, DestinationType and LogFormat.")
		}
		if slices.ContainsFunc(out, func(o resource.LogDelivery) bool { return o.LogType == ld.LogType }) {
			return nil, api.InvalidParameterValueException("Only one log delivery configuration per LogType (%s) is allowed.", ld.LogType)
		}
		d := r.DestinationDetails
		switch ld.DestinationType {
		case "cloudwatch-logs":
			if d == nil || d.CloudWatchLogsDetails == nil || deref(d.CloudWatchLogsDetails.LogGroup) == "" {
				return nil, api.InvalidParameterValueException("DestinationDetails.CloudWatchLogsDetails.LogGroup is required for the cloudwatch-logs destination.")
			}
			ld.LogGroup = *d.CloudWatchLogsDetails.LogGroup
		case "kinesis-firehose":
			if d == nil || d.KinesisFirehoseDetails == nil || deref(d.KinesisFirehoseDetails.DeliveryStream) == "" {
				return nil, api.InvalidParameterValueException("DestinationDetails.KinesisFirehoseDetails.DeliveryStream is required for the kinesis-firehose destination.")
			}
			ld.DeliveryStream = *d.KinesisFirehoseDetails.DeliveryStream
		}
		out = append(out, ld)
	}
	return out, nil
}

// checkReferences verifies that the parameter, subnet and security groups named by c exist and fit.
func (s *Service) checkReferences(tx store.Tx, rg string, c *resource.Cluster, v engine.Version) error {
	family := v.Family
	name := c.CacheParameterGroupHint
	c.CacheParameterGroupHint = ""
	if name == "" {
		c.ParameterGroup = v.DefaultParameterGroup
		if c.ClusterMode {
			c.ParameterGroup += ".cluster.on"
		}
	} else {
		pg, err := lookupParameterGroup(tx, rg, name)
		if err != nil {
			return err
		}
		if pg.Family != family {
			return api.InvalidParameterCombinationException("The parameter group %s has family %s, which does not match engine %s %s (family %s).", pg.Name, pg.Family, c.Engine, v.EngineVersion, family)
		}
		if pg.ClusterEnabled && !c.ClusterMode {
			return api.InvalidParameterCombinationException("The parameter group %s has cluster-enabled set to yes; it cannot be used to create a cache cluster.", pg.Name)
		}
		if !pg.ClusterEnabled && c.ClusterMode {
			return api.InvalidParameterCombinationException("The parameter group %s has cluster-enabled set to no; a cluster mode enabled replication group needs yes.", pg.Name)
		}
		c.ParameterGroup = pg.Name
	}
	if c.SubnetGroup != "" && c.SubnetGroup != "default" {
		if _, err := tx.Get(resource.KindSubnetGroup, resource.Key(rg, c.SubnetGroup)); errors.Is(err, store.ErrNotFound) {
			return api.CacheSubnetGroupNotFoundFault("Cache subnet group %s not found.", c.SubnetGroup)
		} else if err != nil {
			return err
		}
	}
	if err := checkSecurityGroupNames(tx, rg, c.SecurityGroupNames); err != nil {
		return err
	}
	return nil
}

// DescribeCacheClusters lists the region's cache clusters with Marker pagination. Each cluster is
// rendered once per stored revision and way of showing it, and its XML kept with it.
func (s *Service) DescribeCacheClusters(ctx context.Context, in *api.DescribeCacheClustersMessage) (*api.CacheClusterMessage, error) {
	id := strings.ToLower(deref(in.CacheClusterId))
	recs, max, err := regionView[resource.Cluster](ctx, s.view, "describe cache clusters", resource.KindCluster, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	recs = slices.DeleteFunc(recs, func(r *view.Record[resource.Cluster]) bool {
		c := r.Value
		return (id != "" && c.ID != id) || (deref(in.ShowCacheClustersNotInReplicationGroups) && c.ReplicationGroupID != "")
	})
	if id != "" && len(recs) == 0 {
		return nil, api.CacheClusterNotFoundFault("CacheCluster not found: %s", id)
	}
	showNodes := deref(in.ShowCacheNodeInfo)
	var replicas map[string]bool
	if showNodes { // SourceCacheNodeId is shown on nodes only
		if replicas, err = s.replicaMembers(ctx, recs); err != nil {
			return nil, err
		}
	}
	out := &api.CacheClusterMessage{}
	out.CacheClusters, out.Marker = renderPage(recs, func(r *view.Record[resource.Cluster]) string { return r.Value.ID }, in.Marker, max,
		func(r *view.Record[resource.Cluster]) api.CacheCluster {
			way := clusterShown{nodes: showNodes, replica: replicas[r.Value.ID]}
			return view.Derive(r, way, nil, func(c *resource.Cluster) api.CacheCluster { return s.renderShownCluster(c, way) })
		})
	return out, nil
}

// clusterShown is one way DescribeCacheClusters shows a cluster: with its nodes or not, and as the
// replica member of a replication group (whose nodes name their source node) or not.
type clusterShown struct{ nodes, replica bool }

// renderShownCluster renders c as way shows it, its XML kept with it.
func (s *Service) renderShownCluster(c *resource.Cluster, way clusterShown) api.CacheCluster {
	cc := s.renderCluster(c, way.nodes)
	if way.replica {
		for i := range cc.CacheNodes {
			cc.CacheNodes[i].SourceCacheNodeId = ptr("0001") // its node group's primary, whose one node is 0001
		}
	}
	cc.Prerender()
	return *cc
}

// replicaMembers is the set of clusters among recs that are replica members of a replication group.
func (s *Service) replicaMembers(ctx context.Context, recs []*view.Record[resource.Cluster]) (map[string]bool, error) {
	if !slices.ContainsFunc(recs, func(r *view.Record[resource.Cluster]) bool { return r.Value.ReplicationGroupID != "" }) {
		return nil, nil
	}
	groups, _, err := regionList[resource.ReplicationGroup](ctx, s.view, "describe cache clusters", resource.KindReplicationGroup, nil, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, g := range groups {
		for _, ng := range g.NodeGroups {
			for _, m := range ng.Members {
				if m.Role == resource.RoleReplica {
					out[m.ClusterID] = true
				}
			}
		}
	}
	return out, nil
}

// ModifyCacheCluster changes settings; node count, engine version and node type wait for the
// maintenance window unless ApplyImmediately is set.
func (s *Service) ModifyCacheCluster(ctx context.Context, in *api.ModifyCacheClusterMessage) (*api.ModifyCacheClusterResult, error) {
	member := func(c *resource.Cluster) error {
		return api.InvalidCacheClusterStateFault("Cache cluster %s is a member of replication group %s; modify the replication group instead.", c.ID, c.ReplicationGroupID)
	}
	out, err := s.updateStandalone(ctx, in.CacheClusterId, clusterAvailable, member, func(tx store.Tx, c *resource.Cluster) error {
		return s.modifyCluster(tx, c, in)
	})
	if err != nil {
		return nil, err
	}
	return &api.ModifyCacheClusterResult{CacheCluster: s.renderCluster(out, false)}, nil
}

// updateStandalone runs fn, as updateCluster does, on the cluster named by id (required) once ready lets it
// (clusterAvailable, clusterDeletable); a member of a replication group is refused with the fault member
// returns.
func (s *Service) updateStandalone(ctx context.Context, id *string, ready, member func(*resource.Cluster) error, fn func(tx store.Tx, c *resource.Cluster) error) (*resource.Cluster, error) {
	if deref(id) == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheClusterId must be provided.")
	}
	return s.updateCluster(ctx, region(ctx), strings.ToLower(*id), func(tx store.Tx, c *resource.Cluster) error {
		if err := ready(c); err != nil {
			return err
		}
		if c.ReplicationGroupID != "" {
			return member(c)
		}
		return fn(tx, c)
	})
}

// updateCluster runs fn on the stored cluster inside one transaction, writes it back and returns it.
func (s *Service) updateCluster(ctx context.Context, rg, id string, fn func(tx store.Tx, c *resource.Cluster) error) (*resource.Cluster, error) {
	var out *resource.Cluster
	err := s.store.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(resource.KindCluster, resource.Key(rg, id))
		if errors.Is(err, store.ErrNotFound) {
			return api.CacheClusterNotFoundFault("CacheCluster not found: %s", id)
		} else if err != nil {
			return err
		}
		c, err := resource.Unmarshal[resource.Cluster](obj.Value)
		if err != nil {
			return err
		}
		if err := fn(tx, c); err != nil {
			return err
		}
		out = c
		_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision)
		return err
	})
	return out, faultOrInternal("update cache cluster", err)
}

func (s *Service) modifyCluster(tx store.Tx, c *resource.Cluster, in *api.ModifyCacheClusterMessage) error {
	memcached := c.Engine == engine.EngineMemcached
	now := deref(in.ApplyImmediately)
	if now {
		in = withPending(c, in)
	}
	if in.NumCacheNodes != nil || in.CacheNodeIdsToRemove != nil {
		if err := s.modifyNodeCount(tx, c, in, now); err != nil {
			return err
		}
	}
	if err := s.modifyEngineVersion(c, in, now); err != nil {
		return err
	}
	if err := modifyNodeType(c, in, now); err != nil {
		return err
	}
	if err := modifyWindows(c, in.PreferredMaintenanceWindow, in.SnapshotWindow, memcached); err != nil {
		return err
	}
	if err := modifyIPDiscovery(c.NetworkType, &c.IPDiscovery, in.IpDiscovery); err != nil {
		return err
	}
	if !memcached {
		if n := in.SnapshotRetentionLimit; n != nil {
			if *n < 0 || *n > 35 {
				return api.InvalidParameterValueException("SnapshotRetentionLimit must be between 0 and 35 days.")
			}
			c.SnapshotRetentionLimit = *n
		}
	} else if in.SnapshotWindow != nil || in.SnapshotRetentionLimit != nil {
		return api.InvalidParameterCombinationException("Snapshots are only supported for the redis and valkey engines.")
	}
	if pg := deref(in.CacheParameterGroupName); pg != "" {
		g, err := lookupParameterGroup(tx, c.Region, pg)
		if err != nil {
			return err
		}
		if g.Family != engine.Family(c.Engine, c.EngineVersion) {
			return api.InvalidParameterCombinationException("The parameter group %s has family %s, which does not match the cluster's engine version %s.", g.Name, g.Family, c.EngineVersion)
		}
		if g.ClusterEnabled != c.ClusterMode {
			return api.InvalidParameterCombinationException("The parameter group %s has cluster-enabled %s, which does not match the cluster mode of %s.", g.Name, yesNo(g.ClusterEnabled), c.ID)
		}
		c.Pending.ParameterGroup = ""
		if now {
			c.ParameterGroup = g.Name
		} else if g.Name != c.ParameterGroup {
			c.Pending.ParameterGroup = g.Name // switched in the maintenance window
		}
	}
	if in.SecurityGroupIds != nil {
		if err := validSecurityGroupIDs(in.SecurityGroupIds); err != nil {
			return err
		}
		c.SecurityGroupIDs = slices.Clone(in.SecurityGroupIds)
	}
	if in.CacheSecurityGroupNames != nil {
		if c.SubnetGroup != "" {
			return api.InvalidParameterCombinationException("CacheSecurityGroupNames can only be used outside a VPC; cache cluster %s is in cache subnet group %s.", c.ID, c.SubnetGroup)
		}
		if err := checkSecurityGroupNames(tx, c.Region, lowerAll(in.CacheSecurityGroupNames)); err != nil {
			return err
		}
		c.SecurityGroupNames = lowerAll(in.CacheSecurityGroupNames)
	}
	if in.NotificationTopicArn != nil {
		nt, err := s.validTopic(in.NotificationTopicArn)
		if err != nil {
			return err
		}
		c.NotificationTopicARN, c.NotificationTopicStatus = nt, "active"
	}
	if st := deref(in.NotificationTopicStatus); st != "" {
		if st != "active" && st != "inactive" {
			return api.InvalidParameterValueException("NotificationTopicStatus must be active or inactive.")
		}
		c.NotificationTopicStatus = st
	}
	if in.AutoMinorVersionUpgrade != nil {
		c.AutoMinorVersionUpgrade = *in.AutoMinorVersionUpgrade
	}
	if in.AuthToken != nil || in.AuthTokenUpdateStrategy != nil {
		if err := s.modifyAuthToken(c, in); err != nil {
			return err
		}
	}
	if in.LogDeliveryConfigurations != nil {
		logs, err := validLogDelivery(in.LogDeliveryConfigurations)
		if err != nil {
			return err
		}
		c.LogDelivery = logs
	}
	return nil
}

// modifyEngineVersion applies EngineVersion: an upgrade now or in the maintenance window, with the new
// family's default parameter group unless the request names one.
func (s *Service) modifyEngineVersion(c *resource.Cluster, in *api.ModifyCacheClusterMessage, now bool) error {
	if in.Engine != nil && !strings.EqualFold(*in.Engine, c.Engine) {
		switch {
		case c.ReplicationGroupID != "":
			return api.InvalidParameterCombinationException("Cache cluster %s is a member of replication group %s: change the engine with ModifyReplicationGroup.", c.ID, c.ReplicationGroupID)
		case c.Engine == engine.EngineRedis && strings.EqualFold(*in.Engine, engine.EngineValkey):
			return api.InvalidParameterCombinationException("To move cache cluster %s to valkey, first make it the primary of a replication group (CreateReplicationGroup PrimaryClusterId), then change the group's engine.", c.ID)
		}
		return api.InvalidParameterCombinationException("Changing the engine of cluster %s from %s to %s is not supported.", c.ID, c.Engine, *in.Engine)
	}
	v := deref(in.EngineVersion)
	if v == "" {
		return nil
	}
	target, err := s.resolveVersion(c.Engine, v)
	if err != nil {
		return err
	}
	if engine.CompareVersions(target.EngineVersion, c.EngineVersion) < 0 {
		return api.InvalidParameterCombinationException("Cannot downgrade %s engine version from %s to %s.", c.Engine, c.EngineVersion, target.EngineVersion)
	}
	if target.Family != engine.Family(c.Engine, c.EngineVersion) && in.CacheParameterGroupName == nil {
		c.ParameterGroup = target.DefaultParameterGroup
		if c.ClusterMode {
			c.ParameterGroup += ".cluster.on"
		}
	}
	if target.EngineVersion != c.EngineVersion {
		// The controller restarts a node only when the upgrade needs another binary.
		if now {
			c.Pending.Completion = append(c.Pending.Completion, fmt.Sprintf("Finished upgrading engine version from %s to %s", c.EngineVersion, target.EngineVersion))
			c.EngineVersion = target.EngineVersion
			c.Status = resource.StatusModifying
		} else {
			c.Pending.EngineVersion = target.EngineVersion
		}
	}
	return nil
}

// modifyNodeType applies CacheNodeType, now or in the maintenance window.
func modifyNodeType(c *resource.Cluster, in *api.ModifyCacheClusterMessage, now bool) error {
	nt := deref(in.CacheNodeType)
	if nt == "" || nt == c.NodeType {
		return nil
	}
	if c.Engine == engine.EngineMemcached {
		return api.InvalidParameterCombinationException("Changing the node type of a Memcached cluster is not supported; create a new cluster with the new node type.")
	}
	if !slices.Contains(allowedNodeTypes(c), nt) {
		return api.InvalidParameterCombinationException("Cluster %s cannot be modified to node type %s; ListAllowedNodeTypeModifications lists the allowed types.", c.ID, nt)
	}
	// The engine's memory limit changes in place (CONFIG SET maxmemory): no data is lost.
	if now {
		c.Pending.Completion = append(c.Pending.Completion, fmt.Sprintf("Finished applying modification to cache node type to %s.", nt))
		c.NodeType = nt
		c.Status = resource.StatusModifying
	} else {
		c.Pending.NodeType = nt
	}
	return nil
}

// modifyAuthToken applies AuthTokenUpdateStrategy: ROTATE (the default) adds the new token and keeps the
// current one valid; SET, after a ROTATE, leaves only the new token. The engines change without a restart.
func (s *Service) modifyAuthToken(c *resource.Cluster, in *api.ModifyCacheClusterMessage) error {
	if !c.TransitEncryption {
		return api.InvalidParameterCombinationException("AuthToken can only be modified on clusters with in-transit encryption enabled.")
	}
	strategy := deref(in.AuthTokenUpdateStrategy)
	if strategy == "" {
		strategy = "ROTATE"
	}
	if strategy == "DELETE" {
		return api.InvalidParameterCombinationException("AuthTokenUpdateStrategy DELETE is only allowed when moving a replication group to role-based access control.")
	}
	if in.AuthToken == nil {
		return api.InvalidParameterValueException("AuthToken is required with AuthTokenUpdateStrategy %s.", strategy)
	}
	if err := validAuthToken(*in.AuthToken); err != nil {
		return err
	}
	switch strategy {
	case "ROTATE":
		if c.AuthToken != "" && c.AuthToken != *in.AuthToken {
			c.PreviousAuthToken = c.AuthToken
		}
		c.Pending.AuthTokenStatus = "ROTATING"
	case "SET":
		if c.PreviousAuthToken == "" {
			return api.InvalidParameterCombinationException("AuthTokenUpdateStrategy SET is only allowed after a ROTATE.")
		}
		c.PreviousAuthToken = ""
		c.Pending.AuthTokenStatus = "SETTING"
	}
	now := s.now().UTC()
	c.Pending.Completion = append(c.Pending.Completion, fmt.Sprintf("Finished applying AUTH token update (%s)", strategy))
	c.AuthToken, c.AuthTokenUpdatedAt = *in.AuthToken, &now
	c.Status = resource.StatusModifying
	return nil
}

// modifyNodeCount handles Memcached scale-out and scale-in.
func (s *Service) modifyNodeCount(tx store.Tx, c *resource.Cluster, in *api.ModifyCacheClusterMessage, now bool) error {
	current := int32(len(c.Nodes))
	want := current
	if in.NumCacheNodes != nil {
		want = *in.NumCacheNodes
	}
	if c.Engine != engine.EngineMemcached {
		if want != 1 || in.CacheNodeIdsToRemove != nil {
			return api.InvalidParameterValueException("NumCacheNodes must be 1 for the %s engine.", c.Engine)
		}
		return nil
	}
	if want < 1 {
		return api.InvalidParameterValueException("NumCacheNodes must be at least 1.")
	}
	if int(want) > s.cfg.Quotas.NodesPerCluster {
		return api.NodeQuotaForClusterExceededFault("Cluster node quota exceeded. Each cluster can have at most %d nodes in this region.", s.cfg.Quotas.NodesPerCluster)
	}
	remove := in.CacheNodeIdsToRemove
	if want < current && int32(len(remove)) != current-want {
		return api.InvalidParameterCombinationException("The number of CacheNodeIdsToRemove must match the number of nodes you are trying to remove, current number of cache nodes is %d, requested number of cache nodes is %d and CacheNodeIdsToRemove supplied are %d", current, want, len(remove))
	}
	if want >= current && len(remove) > 0 {
		return api.InvalidParameterCombinationException("CacheNodeIdsToRemove can only be used when NumCacheNodes is lower than the current number of cache nodes (%d).", current)
	}
	for _, id := range remove {
		if !slices.ContainsFunc(c.Nodes, func(n resource.Node) bool { return n.ID == id }) {
			return api.InvalidParameterValueException("Cache node %s does not exist in cluster %s.", id, c.ID)
		}
	}
	azs, err := s.newNodeZones(tx, c, in.NewAvailabilityZones, int(want-current))
	if err != nil {
		return err
	}
	if want == current {
		return nil
	}
	all, err := loadClusters(tx)
	if err != nil {
		return err
	}
	if !now {
		if add := int(want - current); add > 0 {
			if err := s.checkNodeQuota(all, c.Region, add); err != nil {
				return err
			}
		}
		c.Pending.NumNodes = &want
		c.Pending.NodeIDsToRemove = slices.Clone(remove)
		c.Pending.NewAZs = azs
		return nil
	}
	msg := "Increasing number of requested nodes"
	if want < current {
		msg = "Decreasing number of requested nodes"
	}
	if err := resource.AddEvent(tx, s.now().UTC(), 0, c.Region, resource.SourceCacheCluster, c.ID, msg); err != nil {
		return err
	}
	return s.scaleNodes(tx, all, c, int(want), remove, azs)
}

// newNodeZones checks NewAvailabilityZones: one zone, with a subnet of the cluster's subnet group, for each
// of the added nodes (nil: ecache picks them).
func (s *Service) newNodeZones(tx store.Tx, c *resource.Cluster, azs []string, added int) ([]string, error) {
	if azs == nil {
		return nil, nil
	}
	if len(azs) != added {
		return nil, api.InvalidParameterCombinationException("NewAvailabilityZones names %d Availability Zones for %d new cache nodes: give one for each node added.", len(azs), max(added, 0))
	}
	at, err := s.placement(tx, c.Region, c.SubnetGroup)
	if err != nil {
		return nil, err
	}
	for _, az := range azs {
		if err := at.check(az); err != nil {
			return nil, err
		}
	}
	return slices.Clone(azs), nil
}

// scaleNodes adds nodes (with fresh ports) or marks nodes for removal, and puts the cluster in modifying.
func (s *Service) scaleNodes(tx store.Tx, all []*resource.Cluster, c *resource.Cluster, want int, remove, azs []string) error {
	var ports []int
	if add := want - len(c.Nodes); add > 0 {
		if err := s.checkNodeQuota(all, c.Region, add); err != nil {
			return err
		}
		var err error
		if ports, err = s.allocatePorts(tx, add); err != nil {
			return err
		}
	}
	c.BeginScale(want, remove, azs, ports, s.now().UTC())
	return nil
}

// DeleteCacheCluster marks the cluster deleting; the controller stops its engines and removes it.
func (s *Service) DeleteCacheCluster(ctx context.Context, in *api.DeleteCacheClusterMessage) (*api.DeleteCacheClusterResult, error) {
	member := func(c *resource.Cluster) error {
		return api.InvalidCacheClusterStateFault("Cannot delete the cache cluster since it is a member of replication group %s. Delete the replication group instead.", c.ReplicationGroupID)
	}
	out, err := s.updateStandalone(ctx, in.CacheClusterId, clusterDeletable, member, func(tx store.Tx, c *resource.Cluster) error {
		if st := clusterStatus(c); in.FinalSnapshotIdentifier != nil && (st == resource.StatusIncompatibleParameters || st == resource.StatusRestoreFailed) {
			return api.InvalidCacheClusterStateFault("Cache cluster %s has no running engine to take a final snapshot from: it is in %s state.", c.ID, st)
		}
		if in.FinalSnapshotIdentifier != nil {
			if c.Engine == engine.EngineMemcached {
				return api.InvalidParameterCombinationException("FinalSnapshotIdentifier is not valid for Memcached clusters, which do not support snapshots.")
			}
			// The controller copies the data before it stops the engine.
			snap, err := s.newSnapshot(tx, c.Region, strings.ToLower(*in.FinalSnapshotIdentifier), c.ID, "", "final")
			if err != nil {
				return err
			}
			if err := putSnapshot(tx, snap); err != nil {
				return err
			}
		}
		c.MarkDeleting()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteCacheClusterResult{CacheCluster: s.renderCluster(out, false)}, nil
}

// RebootCacheCluster asks the controller to restart the named nodes.
func (s *Service) RebootCacheCluster(ctx context.Context, in *api.RebootCacheClusterMessage) (*api.RebootCacheClusterResult, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.CacheClusterId))
	if len(in.CacheNodeIdsToReboot) == 0 {
		return nil, api.InvalidParameterValueException("The parameter CacheNodeIdsToReboot must contain at least one cache node id.")
	}
	out, err := s.updateCluster(ctx, rg, id, func(tx store.Tx, c *resource.Cluster) error {
		if err := clusterAvailable(c); err != nil {
			return err
		}
		if c.ReplicationGroupID != "" {
			if primary, err := isGroupPrimary(tx, c); err != nil {
				return err
			} else if primary {
				return api.InvalidCacheClusterStateFault("Cache cluster %s is the primary of replication group %s: restarting it would empty it and its replicas. Move the primary role with TestFailover first.", c.ID, c.ReplicationGroupID)
			}
		}
		for _, nid := range in.CacheNodeIdsToReboot {
			i := slices.IndexFunc(c.Nodes, func(n resource.Node) bool { return n.ID == nid })
			if i < 0 {
				return api.InvalidParameterValueException("Cache node %s does not exist in cluster %s.", nid, c.ID)
			}
			c.Nodes[i].Reboot = true
			c.Nodes[i].Status = resource.NodeRebooting
		}
		c.Status = resource.StatusRebooting
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.RebootCacheClusterResult{CacheCluster: s.renderCluster(out, false)}, nil
}

// isGroupPrimary reports whether c is the primary member of its replication group (which has replicas).
func isGroupPrimary(tx store.Tx, c *resource.Cluster) (bool, error) {
	obj, err := tx.Get(resource.KindReplicationGroup, resource.Key(c.Region, c.ReplicationGroupID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	g, err := resource.Unmarshal[resource.ReplicationGroup](obj.Value)
	if err != nil {
		return false, err
	}
	for _, ng := range g.NodeGroups {
		if ng.Primary() == c.ID && len(ng.Members) > 1 {
			return true, nil
		}
	}
	return false, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
