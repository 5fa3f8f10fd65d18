package driver

import (
	"context"
	"io"
	"time"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resp"
)

// Engines are the operations the reconcilers run on live Valkey/Redis OSS engines, through the engines' own
// commands: health, replication, cluster mode and datasets. Driver runs the processes; Engines talks to
// them. driver/process implements it for this host (internal/replication, internal/clustermode and
// internal/rdb, with the scratch engines of restores started by the driver); the controller's tests use a
// fake with scripted offsets and failures.
type Engines interface {
	// Ping reports whether n answers a PING within timeout; any reply, an error reply included, counts.
	Ping(ctx context.Context, n resp.Node, timeout time.Duration) bool

	// Inspect reads n's replication state.
	Inspect(ctx context.Context, n resp.Node) (replication.State, error)
	// Attach makes replica follow primary, keeping a link that already does.
	Attach(ctx context.Context, replica, primary resp.Node) error
	// MostUpToDate returns the index and state of the candidate with the highest replication offset.
	MostUpToDate(ctx context.Context, candidates []resp.Node) (int, replication.State, error)
	// Promote makes candidate the primary and re-points others; with oldPrimary alive it is a planned
	// promotion that loses no acknowledged write.
	Promote(ctx context.Context, candidate resp.Node, oldPrimary *resp.Node, others []resp.Node) error
	// Databases lists the numbers of n's databases that hold keys.
	Databases(ctx context.Context, n resp.Node) ([]int, error)
	// PauseAndSave pauses writes on n for up to pause and saves its dataset to its RDB file.
	PauseAndSave(ctx context.Context, n resp.Node, pause time.Duration) error
	// Listen makes n listen on addrs (its own address first) and drops the clients of an address it leaves.
	Listen(ctx context.Context, n resp.Node, addrs []string) error

	// ClusterInspect reads a cluster's shards as the node any sees them.
	ClusterInspect(ctx context.Context, any resp.Node) ([]clustermode.ShardState, error)
	// ClusterConverged reports whether nodes form one settled cluster: each answers cluster_state:ok, all
	// agree on nodes, roles and slots, and every replica's link is up; why says what is not settled yet.
	ClusterConverged(ctx context.Context, nodes []resp.Node) (ok bool, why string, err error)
	// ClusterCreate forms a new cluster of shards.
	ClusterCreate(ctx context.Context, shards []clustermode.ShardSpec) error
	// ClusterAddShard adds an empty shard to the cluster seed belongs to.
	ClusterAddShard(ctx context.Context, seed resp.Node, shard clustermode.ShardSpec) error
	// ClusterAddReplica makes replica a replica of primary in the cluster seed belongs to.
	ClusterAddReplica(ctx context.Context, seed, primary, replica resp.Node) error
	// ClusterRemoveShard takes an emptied shard (its primary and replicas) out of the cluster.
	ClusterRemoveShard(ctx context.Context, seed, primary resp.Node, replicas []resp.Node) error
	// ClusterFailover promotes a shard's replica, with the primary's cooperation or without it.
	ClusterFailover(ctx context.Context, replica resp.Node, mode clustermode.FailoverMode) error
	// ClusterForget makes the nodes keep forget every node that is not one of them; it returns the ids.
	ClusterForget(ctx context.Context, keep []resp.Node) ([]string, error)
	// MoveSlots moves slots, with their keys, from one shard's primary to another's while clients work.
	MoveSlots(ctx context.Context, seed, from, to resp.Node, slots hashslot.Range, progress func(done int)) error

	// Fetch copies n's dataset as an RDB file to w.
	Fetch(ctx context.Context, n resp.Node, w io.Writer) (int64, error)
	// CopyKeys copies every key of an RDB file into target, reading the file with the engine binary.
	CopyKeys(ctx context.Context, binary, file string, target resp.Node) (int64, error)
}
