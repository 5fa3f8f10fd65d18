// Package resource defines the records ecache keeps in its store: the desired and observed state of
// cache clusters and their nodes, the groups around them, and events. internal/service writes desired
// state, internal/controller writes observed state; both import this package and nothing else imports them.
package resource

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Store kinds.
const (
	KindCluster        = "cache-cluster"
	KindEvent          = "event"
	KindParameterGroup = "cache-parameter-group"
	KindSubnetGroup    = "cache-subnet-group"
	KindSecurityGroup  = "cache-security-group"
)

// Key is the store key of a regional resource: resources are per region, as on AWS.
func Key(region, id string) string { return region + "/" + id }

// Cluster statuses, as the AWS waiters poll for them.
const (
	StatusCreating  = "creating"
	StatusAvailable = "available"
	StatusModifying = "modifying"
	StatusDeleting  = "deleting"
	StatusRebooting = "rebooting cluster nodes"
	// StatusRestoreFailed is a cluster whose restore failed: its engines are stopped and it can only be
	// deleted.
	StatusRestoreFailed = "restore-failed"
	// StatusCreateFailed is a replication group whose creation failed (a member's restore): the same.
	StatusCreateFailed = "create-failed"
	// StatusIncompatibleParameters is how a cluster shows while an engine refuses its parameters.
	StatusIncompatibleParameters = "incompatible-parameters"
)

// MarkDeleting turns the cluster and its nodes to deleting; the controller then stops the engines and
// removes the record.
func (c *Cluster) MarkDeleting() {
	c.Status = StatusDeleting
	for i := range c.Nodes {
		c.Nodes[i].Status = NodeDeleting
	}
}

// Node statuses.
const (
	NodeCreating  = "creating"
	NodeAvailable = "available"
	NodeRebooting = "rebooting"
	NodeDeleting  = "deleting"
)

// Cluster is a cache cluster: its settings as requested and its nodes as they are.
type Cluster struct {
	Region string `json:"region"`
	ID     string `json:"id"`
	// UID tells apart clusters that reuse a deleted cluster's id; it is part of every node's driver id.
	UID string `json:"uid"`

	Engine        string    `json:"engine"`
	EngineVersion string    `json:"engineVersion"` // the AWS version reported (7.1)
	NodeType      string    `json:"nodeType"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"createdAt"`

	ParameterGroup       string   `json:"parameterGroup"`
	ParameterApplyStatus string   `json:"parameterApplyStatus"`
	SubnetGroup          string   `json:"subnetGroup,omitempty"`
	SecurityGroupNames   []string `json:"securityGroupNames,omitempty"`
	SecurityGroupIDs     []string `json:"securityGroupIds,omitempty"`
	AZMode               string   `json:"azMode,omitempty"`
	PreferredAZ          string   `json:"preferredAz"`
	OutpostMode          string   `json:"outpostMode,omitempty"`
	PreferredOutpostARN  string   `json:"preferredOutpostArn,omitempty"`

	MaintenanceWindow       string `json:"maintenanceWindow"`
	SnapshotWindow          string `json:"snapshotWindow,omitempty"`
	SnapshotRetentionLimit  int32  `json:"snapshotRetentionLimit"`
	AutoMinorVersionUpgrade bool   `json:"autoMinorVersionUpgrade"`
	NotificationTopicARN    string `json:"notificationTopicArn,omitempty"`
	NotificationTopicStatus string `json:"notificationTopicStatus,omitempty"`

	TransitEncryption bool `json:"transitEncryption"`
	// TransitEncryptionMode is preferred while nodes take both TLS and plain connections on their port (a
	// group moving to or from in-transit encryption); otherwise required whenever TransitEncryption.
	TransitEncryptionMode string `json:"transitEncryptionMode,omitempty"`
	AtRestEncryption      bool   `json:"atRestEncryption"`
	AuthToken             string `json:"authToken,omitempty"`
	// PreviousAuthToken stays valid next to AuthToken after a ROTATE, until a SET.
	PreviousAuthToken  string     `json:"previousAuthToken,omitempty"`
	AuthTokenUpdatedAt *time.Time `json:"authTokenUpdatedAt,omitempty"`
	// ACLSecret is set on the members of a replication group with a user group: the password of ecache's
	// own engine user (ControlUserName); the group's users are the engines' ACL.
	ACLSecret   string        `json:"aclSecret,omitempty"`
	NetworkType string        `json:"networkType"`
	IPDiscovery string        `json:"ipDiscovery"`
	LogDelivery []LogDelivery `json:"logDelivery,omitempty"`
	Tags        []Tag         `json:"tags,omitempty"`

	ReplicationGroupID string `json:"replicationGroupId,omitempty"`
	// Durable members belong to a group with Durability sync or async: clients reach their nodes through
	// ecache's durable endpoint on Port, which answers writes once the shard's transaction log has them; the
	// engine runs behind it on EnginePorts.
	Durable bool `json:"durable,omitempty"`
	// ClusterMode members of cluster-mode-enabled groups run their engine with cluster-enabled yes.
	ClusterMode bool `json:"clusterMode,omitempty"`
	// Snapshotting names the snapshot being copied from this cluster; the cluster shows "snapshotting".
	Snapshotting string `json:"snapshotting,omitempty"`
	// Zones are the Availability Zones of the cluster's subnet group, where nodes added later go (empty in
	// records written before they were kept: the region's first three).
	Zones []string `json:"zones,omitempty"`
	// Incompatible is, while a node's engine refuses to start with the cluster's parameters, the engine's
	// reason; the cluster then shows "incompatible-parameters" and can be deleted whatever its status.
	Incompatible string `json:"incompatible,omitempty"`
	// AutomaticSnapshotAt is when the last automatic snapshot of this cluster was taken.
	AutomaticSnapshotAt time.Time `json:"automaticSnapshotAt"`
	// SeedSnapshot is the snapshot file ("<snapshot UID>/<file>") the cluster's node loads when it is
	// first started: a restore.
	SeedSnapshot string `json:"seedSnapshot,omitempty"`
	// SeedObject is the object store object ("bucket/key") that is downloaded to SeedSnapshot before the
	// node's first start (a restore from SnapshotArns).
	SeedObject string `json:"seedObject,omitempty"`
	// SeedName names the snapshot restored, for events.
	SeedName string `json:"seedName,omitempty"`
	// MergeFiles are further files whose keys are copied into the node after its first start, before it
	// becomes available: a snapshot of several node groups restored into one node.
	MergeFiles []SeedFile `json:"mergeFiles,omitempty"`

	Nodes   []Node  `json:"nodes"`
	Pending Pending `json:"pending"`

	// CacheParameterGroupHint carries the requested group name between validation and the store
	// transaction that resolves it; it is never stored.
	CacheParameterGroupHint string `json:"-"`

	// ConfigPort is the port of a Memcached cluster's configuration endpoint.
	ConfigPort int `json:"configPort,omitempty"`
	// OwnAddresses clusters give each node an address of its own (Node.Address), nodes added later too,
	// where it listens on Port.
	OwnAddresses bool `json:"ownAddresses,omitempty"`
	Port         int  `json:"port,omitempty"`
}

// Node is one cache node: one engine process.
type Node struct {
	ID        string    `json:"id"` // 0001
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	Port      int       `json:"port"`
	// Address is the node's own address, where it listens on Port (see SlotAddress); empty: the node host,
	// and Port is of the node range.
	Address string `json:"address,omitempty"`
	// BusPort is the cluster bus port of a cluster-mode engine.
	BusPort int `json:"busPort,omitempty"`
	// EnginePorts are the engine's own plain and TLS ports when ecache listens on Port in front of it: while
	// the node takes both TLS and plain connections (TransitEncryptionMode preferred; the listener hands each
	// connection to one of them), and on durable members (the durable endpoint).
	EnginePorts []int  `json:"enginePorts,omitempty"`
	AZ          string `json:"az"`
	// Reboot asks the controller to restart the engine; it clears the flag when done.
	Reboot bool `json:"reboot,omitempty"`
	// Remove asks the controller to delete the node (scale in, cluster deletion).
	Remove bool `json:"remove,omitempty"`
	// ParameterStatus is the node's parameter group status (in-sync, pending-reboot).
	ParameterStatus string `json:"parameterStatus,omitempty"`
	// StaticValues are the requires-reboot parameter values the engine was last started with.
	StaticValues map[string]string `json:"staticValues,omitempty"`
}

// PreferredTLS reports whether the cluster's nodes take both TLS and plain connections.
func (c *Cluster) PreferredTLS() bool {
	return c.TransitEncryption && c.TransitEncryptionMode == TransitPreferred
}

// Fronted reports whether ecache listens on the cluster's node ports in front of the engines (which run on
// the nodes' EnginePorts).
func (c *Cluster) Fronted() bool { return c.PreferredTLS() || c.Durable }

// In-transit encryption modes.
const (
	TransitPreferred = "preferred"
	TransitRequired  = "required"
)

// DriverID is the node's id for the process driver: unique across regions and cluster generations.
func (c *Cluster) DriverID(nodeID string) string {
	return fmt.Sprintf("%s-%s-%s", c.ID, nodeID, c.UID)
}

// Pending holds modifications requested without ApplyImmediately, applied in the maintenance window.
type Pending struct {
	NumNodes        *int32   `json:"numNodes,omitempty"`
	NodeIDsToRemove []string `json:"nodeIdsToRemove,omitempty"`
	// FromNodes is the node count when an immediate scale operation started.
	FromNodes       int32  `json:"fromNodes,omitempty"`
	EngineVersion   string `json:"engineVersion,omitempty"`
	NodeType        string `json:"nodeType,omitempty"`
	AuthTokenStatus string `json:"authTokenStatus,omitempty"`
	// NewAZs are the Availability Zones of the nodes a pending scale-out adds (NewAvailabilityZones).
	NewAZs []string `json:"newAzs,omitempty"`
	// ParameterGroup is the cache parameter group the cluster switches to in the maintenance window.
	ParameterGroup string `json:"parameterGroup,omitempty"`
	// Completion holds the events to record once the modification in progress has been applied.
	Completion []string `json:"completion,omitempty"`
}

// Empty reports whether nothing is pending.
func (p Pending) Empty() bool {
	return p.NumNodes == nil && len(p.NodeIDsToRemove) == 0 && p.EngineVersion == "" && p.NodeType == "" && p.AuthTokenStatus == "" &&
		p.ParameterGroup == ""
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LogDelivery is one log delivery configuration.
type LogDelivery struct {
	LogType         string `json:"logType"`
	DestinationType string `json:"destinationType"`
	LogGroup        string `json:"logGroup,omitempty"`
	DeliveryStream  string `json:"deliveryStream,omitempty"`
	LogFormat       string `json:"logFormat"`
}

// Event is one entry of DescribeEvents.
type Event struct {
	Region     string    `json:"region"`
	SourceID   string    `json:"sourceId"`
	SourceType string    `json:"sourceType"`
	Message    string    `json:"message"`
	Date       time.Time `json:"date"`
}

// EventRetention is how long events are kept: DescribeEvents returns at most 14 days of them.
const EventRetention = 14 * 24 * time.Hour

// EventKey orders events by time within a region; seq orders the events of one commit, and a random
// suffix keeps events written at the same instant by different commits apart.
func EventKey(region string, t time.Time, seq int) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%020d-%04d-%x", region, t.UnixNano(), seq, b)
}

// ParameterGroup is a user-created cache parameter group.
type ParameterGroup struct {
	Region      string            `json:"region"`
	Name        string            `json:"name"`
	Family      string            `json:"family"`
	Description string            `json:"description"`
	Values      map[string]string `json:"values,omitempty"` // modified parameters only
	Tags        []Tag             `json:"tags,omitempty"`
}

// SubnetGroup is a user-created cache subnet group.
type SubnetGroup struct {
	Region      string   `json:"region"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	SubnetIDs   []string `json:"subnetIds"`
	Tags        []Tag    `json:"tags,omitempty"`
}

// SecurityGroup is a user-created cache security group.
type SecurityGroup struct {
	Region      string          `json:"region"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Ingress     []IngressSource `json:"ingress,omitempty"`
	Tags        []Tag           `json:"tags,omitempty"`
}

// IngressSource is an EC2 security group authorised on a cache security group.
type IngressSource struct {
	GroupName string `json:"groupName"`
	OwnerID   string `json:"ownerId"`
}

// Marshal encodes a record for the store.
func Marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("resource: marshal %T: %v", v, err)) // records are plain data; this cannot fail
	}
	return b
}

// Unmarshal decodes a record read from the store.
func Unmarshal[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %T: %w", v, err)
	}
	return v, nil
}

// Loading reports whether a node of the cluster may still load its SeedFiles: one is being created and the
// restore has not failed.
func (c *Cluster) Loading() bool {
	return c.Status != StatusRestoreFailed && slices.ContainsFunc(c.Nodes, func(n Node) bool { return n.Status == NodeCreating })
}

// SeedFiles are the files a restore loads into the cluster's node: the one it starts from, then the merged
// ones; none when the cluster is not a restore.
func (c *Cluster) SeedFiles() []SeedFile {
	if c.SeedSnapshot == "" {
		return nil
	}
	return append([]SeedFile{{Path: c.SeedSnapshot, Object: c.SeedObject}}, c.MergeFiles...)
}

// SeedFile is a file a restore loads: Path under the snapshot directory and, when it comes from the object
// store, the object ("bucket/key") downloaded to it first.
type SeedFile struct {
	Path   string `json:"path"`
	Object string `json:"object,omitempty"`
	// Snapshot names what the file comes from for events: the snapshot's name, or the S3 objects' ARNs.
	Snapshot string `json:"snapshot,omitempty"`
}
