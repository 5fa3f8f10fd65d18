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
	// SnapshotExporting is an available snapshot whose files are being written to an object store bucket.
	SnapshotExporting = "exporting"
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

	Engine         string `json:"engine"`
	EngineVersion  string `json:"engineVersion"`
	NodeType       string `json:"nodeType"`
	ParameterGroup string `json:"parameterGroup"`
	SubnetGroup    string `json:"subnetGroup,omitempty"`
	NumCacheNodes  int    `json:"numCacheNodes"`
	// Port is the port clients used to reach the source: its node's, or its group's primary or
	// configuration endpoint's (0 in snapshots recorded before it was kept: reported as 6379).
	Port                    int    `json:"port,omitempty"`
	PreferredAZ             string `json:"preferredAz,omitempty"`
	MaintenanceWindow       string `json:"maintenanceWindow,omitempty"`
	SnapshotWindow          string `json:"snapshotWindow,omitempty"`
	SnapshotRetentionLimit  int32  `json:"snapshotRetentionLimit"`
	AutoMinorVersionUpgrade bool   `json:"autoMinorVersionUpgrade"`
	AutomaticFailover       string `json:"automaticFailover,omitempty"`
	ClusterEnabled          bool   `json:"clusterEnabled,omitempty"`
	Durability              string `json:"durability,omitempty"`
	KMSKeyID                string `json:"kmsKeyId,omitempty"`
	// AtRestEncryption seals the snapshot's files (internal/atrest), as its source's data is at rest.
	AtRestEncryption bool   `json:"atRestEncryption,omitempty"`
	TopicARN         string `json:"topicArn,omitempty"`
	Tags             []Tag  `json:"tags,omitempty"`

	Shards []SnapshotShard `json:"shards"`
	// CopyOf is the UID of the snapshot whose files this one copies (CopySnapshot); empty when the files come
	// from the engines.
	CopyOf string `json:"copyOf,omitempty"`
	// Failures counts copy (or export) attempts that broke in a row; the snapshot fails after a few.
	Failures int `json:"failures,omitempty"`
	// Export is the export to an object store under way (CopySnapshot with TargetBucket).
	Export *SnapshotExport `json:"export,omitempty"`
}

// SnapshotExport is where a snapshot is being exported: its files become objects of Bucket named after
// Name (see ExportKey).
type SnapshotExport struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
}

// ExportKey is the object key a shard's file is exported to under name: name.rdb for a snapshot of one node
// group, name-<node group>.rdb for several.
func (s *Snapshot) ExportKey(name string, sh SnapshotShard) string {
	if len(s.Shards) == 1 {
		return name + ".rdb"
	}
	return name + "-" + sh.NodeGroupID + ".rdb"
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
	ReplicaAZs     []string  `json:"replicaAzs,omitempty"`
	Size           int64     `json:"size"`
	CopiedAt       time.Time `json:"copiedAt"`
	Copied         bool      `json:"copied,omitempty"`
	// Object is the object store object ("bucket/key") the shard's file is downloaded from, in the
	// description of an import (SnapshotArns); such a description is never stored.
	Object string `json:"object,omitempty"`
}

// ImportsDir is the directory, under the snapshot directory, of files downloaded from the object store for
// restores (SnapshotArns): ImportsDir/<restore id>/<node group>.rdb.
const ImportsDir = "imports"

// StatusSnapshotting is how a cluster or group that a snapshot is being copied from shows.
const StatusSnapshotting = "snapshotting"

// File is the name of a shard's RDB file inside the snapshot's directory.
func (s SnapshotShard) File() string { return s.NodeGroupID + ".rdb" }

// ExportMetaSlots is the user metadata key of an exported file's slot ranges (cluster mode), read back when
// several exported files seed a cluster mode group.
const ExportMetaSlots = "ecache-slots"

// ExportMetadata is the user metadata an exported shard file carries: the engine that wrote it and its node
// group and, for cluster mode, its slots.
func (s *Snapshot) ExportMetadata(sh SnapshotShard) map[string]string {
	m := map[string]string{"ecache-engine": s.Engine, "ecache-engine-version": s.EngineVersion, "ecache-node-group": sh.NodeGroupID}
	if sh.Slots != "" {
		m[ExportMetaSlots] = sh.Slots
	}
	return m
}
