package resource

import "time"

// KindSnapshot is the store kind of snapshots.
const KindSnapshot = "snapshot"

// Snapshot statuses. A snapshot whose copy broke (an engine or ecache died mid-way) is failed, never
// available with a partial file.
const (
	SnapshotCreating  = "creating"
	SnapshotAvailable = "available"
	SnapshotDeleting  = "deleting"
	SnapshotFailed    = "failed"
)

// Snapshot is a backup of a cache cluster or replication group: the settings it was taken with and one RDB
// file per node group, kept under the data directory (snapshots/<UID>/<node group>.rdb).
type Snapshot struct {
	Region    string    `json:"region"`
	Name      string    `json:"name"`
	UID       string    `json:"uid"`
	Status    string    `json:"status"`
	Source    string    `json:"source"` // manual, automated
	CreatedAt time.Time `json:"createdAt"`

	CacheClusterID              string    `json:"cacheClusterId,omitempty"`
	ReplicationGroupID          string    `json:"replicationGroupId,omitempty"`
	ReplicationGroupDescription string    `json:"replicationGroupDescription,omitempty"`
	SourceCreatedAt             time.Time `json:"sourceCreatedAt"`

	Engine                  string `json:"engine"`
	EngineVersion           string `json:"engineVersion"`
	NodeType                string `json:"nodeType"`
	ParameterGroup          string `json:"parameterGroup"`
	SubnetGroup             string `json:"subnetGroup,omitempty"`
	NumCacheNodes           int    `json:"numCacheNodes"`
	PreferredAZ             string `json:"preferredAz,omitempty"`
	MaintenanceWindow       string `json:"maintenanceWindow,omitempty"`
	SnapshotWindow          string `json:"snapshotWindow,omitempty"`
	SnapshotRetentionLimit  int32  `json:"snapshotRetentionLimit"`
	AutoMinorVersionUpgrade bool   `json:"autoMinorVersionUpgrade"`
	AutomaticFailover       string `json:"automaticFailover,omitempty"`
	ClusterEnabled          bool   `json:"clusterEnabled,omitempty"`
	Durability              string `json:"durability,omitempty"`
	KMSKeyID                string `json:"kmsKeyId,omitempty"`
	TopicARN                string `json:"topicArn,omitempty"`
	Tags                    []Tag  `json:"tags,omitempty"`

	Shards []SnapshotShard `json:"shards"`
	// CopyOf is the UID of the snapshot whose files this one copies (CopySnapshot); empty when the files come
	// from the engines.
	CopyOf string `json:"copyOf,omitempty"`
	// Failures counts copy attempts that broke in a row; the snapshot fails after a few.
	Failures int `json:"failures,omitempty"`
}

// SnapshotShard is one node group's part of a snapshot: the member cluster it is copied from (a replica
// where there is one), its slots and, once copied, the file's size.
type SnapshotShard struct {
	NodeGroupID    string    `json:"nodeGroupId"`
	CacheClusterID string    `json:"cacheClusterId"`
	CacheNodeID    string    `json:"cacheNodeId"`
	NodeCreatedAt  time.Time `json:"nodeCreatedAt"`
	Slots          string    `json:"slots,omitempty"`
	ReplicaCount   int       `json:"replicaCount"`
	PrimaryAZ      string    `json:"primaryAz,omitempty"`
	Size           int64     `json:"size"`
	CopiedAt       time.Time `json:"copiedAt"`
	Copied         bool      `json:"copied,omitempty"`
}

// StatusSnapshotting is how a cluster or group that a snapshot is being copied from shows.
const StatusSnapshotting = "snapshotting"

// File is the name of a shard's RDB file inside the snapshot's directory.
func (s SnapshotShard) File() string { return s.NodeGroupID + ".rdb" }
