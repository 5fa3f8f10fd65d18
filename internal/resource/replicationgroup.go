package resource

import (
	"fmt"
	"time"
)

// KindReplicationGroup is the store kind of replication groups.
const KindReplicationGroup = "replication-group"

// ReplicationGroup is a Valkey or Redis OSS replication group: one node group with cluster mode disabled,
// one node group per shard with it enabled. Its member clusters are ordinary cache-cluster records with
// ReplicationGroupID set; the group holds the roles, the slots, the stable endpoints and the failover
// settings.
type ReplicationGroup struct {
	Region      string    `json:"region"`
	ID          string    `json:"id"`
	UID         string    `json:"uid"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"createdAt"`

	Engine        string `json:"engine"`
	EngineVersion string `json:"engineVersion"`
	NodeType      string `json:"nodeType"`

	AutomaticFailover bool   `json:"automaticFailover"`
	MultiAZ           bool   `json:"multiAz"`
	ClusterMode       string `json:"clusterMode"` // disabled, enabled, compatible
	Durability        string `json:"durability"`

	ParameterGroup          string   `json:"parameterGroup"`
	SubnetGroup             string   `json:"subnetGroup,omitempty"`
	SecurityGroupIDs        []string `json:"securityGroupIds,omitempty"`
	MaintenanceWindow       string   `json:"maintenanceWindow"`
	SnapshotWindow          string   `json:"snapshotWindow"`
	SnapshotRetentionLimit  int32    `json:"snapshotRetentionLimit"`
	AutoMinorVersionUpgrade bool     `json:"autoMinorVersionUpgrade"`
	NotificationTopicARN    string   `json:"notificationTopicArn,omitempty"`
	// LogDelivery are the log delivery configurations every member carries.
	LogDelivery []LogDelivery `json:"logDelivery,omitempty"`

	TransitEncryption bool `json:"transitEncryption"`
	// TransitEncryptionMode is required or preferred with TransitEncryption (see Cluster).
	TransitEncryptionMode string     `json:"transitEncryptionMode,omitempty"`
	AtRestEncryption      bool       `json:"atRestEncryption"`
	KMSKeyID              string     `json:"kmsKeyId,omitempty"`
	AuthToken             string     `json:"authToken,omitempty"`
	AuthTokenUpdatedAt    *time.Time `json:"authTokenUpdatedAt,omitempty"`
	NetworkType           string     `json:"networkType"`
	IPDiscovery           string     `json:"ipDiscovery"`
	Tags                  []Tag      `json:"tags,omitempty"`

	NodeGroups []NodeGroup `json:"nodeGroups"`

	// UserGroupIDs are the user groups (at most one) whose users the nodes carry as their ACL instead of
	// an AUTH token; ACLSecret is then the password of ecache's own engine user (ControlUserName).
	UserGroupIDs []string `json:"userGroupIds,omitempty"`
	// UserGroupsPending is the association change under way (UserGroupIDs already has it).
	UserGroupsPending *UserGroupChange `json:"userGroupsPending,omitempty"`
	ACLSecret         string           `json:"aclSecret,omitempty"`

	// PrimaryPort and ReaderPort are the ports of the stable primary and reader endpoints (cluster mode
	// disabled).
	PrimaryPort int `json:"primaryPort,omitempty"`
	ReaderPort  int `json:"readerPort,omitempty"`
	// OwnAddresses groups give each member node an address of its own, where it listens on Port, and the
	// PrimaryEndpoint PrimaryAddress (cluster mode disabled and compatible), on PrimaryPort = Port: the
	// primary's engine listens there itself while clients reach it directly (see SlotAddress).
	OwnAddresses   bool   `json:"ownAddresses,omitempty"`
	Port           int    `json:"port,omitempty"`
	PrimaryAddress string `json:"primaryAddress,omitempty"`

	// ClusterEnabled groups run their engines in cluster mode, one shard per node group; clients find the
	// shards through the configuration endpoint on ConfigPort.
	ClusterEnabled bool `json:"clusterEnabled,omitempty"`
	ConfigPort     int  `json:"configPort,omitempty"`
	// Formed is set once the engines have been joined into one cluster with every slot assigned.
	Formed bool `json:"formed,omitempty"`
	// Resharding records an online resharding in progress (see Resharding).
	Resharding *Resharding `json:"resharding,omitempty"`

	// Snapshotting names the snapshot being taken of this group; the group shows "snapshotting".
	Snapshotting string `json:"snapshotting,omitempty"`
	// SnapshottingClusterID is the member snapshots of a cluster mode disabled group are copied from
	// (ModifyReplicationGroup SnapshottingClusterId); empty: a replica.
	SnapshottingClusterID string `json:"snapshottingClusterId,omitempty"`
	// AutomaticSnapshotAt is when the last automatic snapshot of this group was taken.
	AutomaticSnapshotAt time.Time `json:"automaticSnapshotAt"`

	// Failover records an automatic or requested failover in progress (see Failover).
	Failover *Failover `json:"failover,omitempty"`
	// Migration, while set, is an online migration into the group (StartMigration): its primary replicates
	// from a server outside ecache until CompleteMigration.
	Migration *Migration `json:"migration,omitempty"`
	// MigrationTest is the source (host:port) TestMigration asked about, until the controller has tried it.
	MigrationTest string `json:"migrationTest,omitempty"`
	// Recovering lists member clusters that lost the primary role and are being recovered as replicas.
	Recovering []string `json:"recovering,omitempty"`
	// PendingPrimary is the member a ModifyReplicationGroup PrimaryClusterId without ApplyImmediately
	// promotes in the next maintenance window.
	PendingPrimary string `json:"pendingPrimary,omitempty"`
	// TestFailovers are the times of TestFailover calls, kept for the rolling 24-hour limit.
	TestFailovers []time.Time `json:"testFailovers,omitempty"`
	// EngineChange is a cross-engine upgrade (Redis OSS to Valkey) asked for and not finished.
	EngineChange *EngineChange `json:"engineChange,omitempty"`
	// TransitChange is a change of in-transit encryption under way (see TransitChange).
	TransitChange *TransitChange `json:"transitChange,omitempty"`
}

// TransitChange moves every member of a group to another in-transit encryption setting, one member at a
// time, each restarting (a primary with its saved dataset): Enabled with Mode preferred or required, or
// disabled. Members move into preferred primary first and out of it replicas first, so that replicas
// always reach their primary (a node in preferred mode replicates in plain).
type TransitChange struct {
	Enabled bool   `json:"enabled"`
	Mode    string `json:"mode,omitempty"`
}

// EngineChange moves every member of a group to another engine, one member at a time: replicas first, then
// each primary, which saves its dataset first and loads it again under the new engine. Started is set when
// it begins: at once with ApplyImmediately, else in the group's maintenance window.
type EngineChange struct {
	Engine         string `json:"engine"`
	EngineVersion  string `json:"engineVersion"`
	ParameterGroup string `json:"parameterGroup"`
	// From is the engine and version the group had, for the event that ends the change.
	From        string `json:"from"`
	Immediately bool   `json:"immediately,omitempty"`
	Started     bool   `json:"started,omitempty"`
}

// NodeGroup is one shard: a primary and its replicas.
type NodeGroup struct {
	ID      string   `json:"id"` // 0001
	Status  string   `json:"status"`
	Members []Member `json:"members"`
	// Slots are the hash slots the shard serves, as NodeGroupConfiguration.Slots writes them (cluster mode).
	Slots string `json:"slots,omitempty"`
	// Log is the shard's transaction log, in a group with durability.
	Log *ShardLog `json:"log,omitempty"`
}

// ShardLog is a durable shard's transaction log: its replicas, each a process of its own, and the last epoch
// handed to a primary (each primary writes to the log under a new one, so an old primary commits nothing).
type ShardLog struct {
	Replicas []LogReplica `json:"replicas"`
	Epoch    uint64       `json:"epoch"`
}

// LogReplica is one replica of a shard's log, in its own Availability Zone.
type LogReplica struct {
	ID       string `json:"id"` // r1, r2, r3
	RaftPort int    `json:"raftPort"`
	APIPort  int    `json:"apiPort"`
	AZ       string `json:"az"`
}

// LogReplicasPerShard is how many replicas a shard's log has: a quorum of two survives the loss of one.
const LogReplicasPerShard = 3

// LogDriverID is the driver's id of replica r of node group ng's log in group g.
func (g *ReplicationGroup) LogDriverID(ng *NodeGroup, r LogReplica) string {
	return fmt.Sprintf("%s-%s-log-%s-%s", g.ID, ng.ID, r.ID, g.UID)
}

// Durable reports whether the group runs with a transaction log (Durability sync or async).
func (g *ReplicationGroup) Durable() bool { return g.Durability == "sync" || g.AsyncDurability() }

// AsyncDurability reports whether the group's writes are answered before its log has them (Durability async).
func (g *ReplicationGroup) AsyncDurability() bool { return g.Durability == "async" }

// Fronted reports whether ecache listens on the member nodes' ports in front of their engines (in-transit
// encryption preferred, or durability), as Cluster.Fronted does for each member.
func (g *ReplicationGroup) Fronted() bool {
	return g.TransitEncryption && g.TransitEncryptionMode == TransitPreferred || g.Durable()
}

// Member is one member cluster of a node group.
type Member struct {
	ClusterID string `json:"clusterId"`
	Role      string `json:"role"` // primary, replica
}

// Member roles.
const (
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Primary returns the node group's primary member cluster id, or "".
func (g *NodeGroup) Primary() string {
	for _, m := range g.Members {
		if m.Role == RolePrimary {
			return m.ClusterID
		}
	}
	return ""
}

// MemberIDs lists every member cluster of the group.
func (rg *ReplicationGroup) MemberIDs() []string {
	var out []string
	for _, g := range rg.NodeGroups {
		for _, m := range g.Members {
			out = append(out, m.ClusterID)
		}
	}
	return out
}

// Failover is a failover in progress: Requested by TestFailover (or ModifyReplicationGroup's
// PrimaryClusterId, with Target set), or started by the health monitor when the primary failed.
type Failover struct {
	NodeGroupID string    `json:"nodeGroupId"`
	From        string    `json:"from"`             // the primary being replaced
	Target      string    `json:"target,omitempty"` // the member to promote; empty: the most up-to-date replica
	Test        bool      `json:"test,omitempty"`   // started by TestFailover
	StartedAt   time.Time `json:"startedAt"`
}

// Resharding is ModifyReplicationGroupShardConfiguration in progress: slots move until every node group
// serves its Target slots, then the node groups in Remove (left without slots) are taken out of the cluster
// and deleted. New node groups are already in NodeGroups. MovedSlots of TotalSlots is the progress.
type Resharding struct {
	Target     map[string]string `json:"target"` // node group id -> slots
	Remove     []string          `json:"remove,omitempty"`
	TotalSlots int               `json:"totalSlots"`
	MovedSlots int               `json:"movedSlots"`
	StartedAt  time.Time         `json:"startedAt"`
}

// NodeGroup returns the node group with the given id, or nil.
func (rg *ReplicationGroup) NodeGroup(id string) *NodeGroup {
	for i := range rg.NodeGroups {
		if rg.NodeGroups[i].ID == id {
			return &rg.NodeGroups[i]
		}
	}
	return nil
}

// Ports lists the ports of the group's stable endpoints.
func (rg *ReplicationGroup) Ports() []int {
	var out []int
	for _, p := range []int{rg.PrimaryPort, rg.ReaderPort, rg.ConfigPort} {
		if p != 0 {
			out = append(out, p)
		}
	}
	for _, ng := range rg.NodeGroups {
		if ng.Log != nil {
			for _, r := range ng.Log.Replicas {
				out = append(out, r.RaftPort, r.APIPort)
			}
		}
	}
	return out
}

// MemberACLSecret is the ACLSecret of the group's members: set while the group has a user group.
func (g *ReplicationGroup) MemberACLSecret() string {
	if len(g.UserGroupIDs) == 0 {
		return ""
	}
	return g.ACLSecret
}

// StatusMigrating is a replication group being migrated into from a server outside ecache.
const StatusMigrating = "migrating"

// Migration is an online migration into a cluster mode disabled replication group (StartMigration).
type Migration struct {
	// Source is the Valkey or Redis OSS server the group's primary replicates from (host:port).
	Source    string    `json:"source"`
	StartedAt time.Time `json:"startedAt"`
	// LinkUp says whether the primary's link to the source was up when the controller last looked.
	LinkUp bool `json:"linkUp,omitempty"`
	// Complete is set by CompleteMigration: the primary stops replicating once it has everything the source
	// has, or at once with Force.
	Complete bool `json:"complete,omitempty"`
	Force    bool `json:"force,omitempty"`
}
