package process

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ecache/ecache/internal/clustermode"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/rdb"
	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resp"
)

// Engines runs the engine operations on this host: each one is the function of internal/replication,
// internal/clustermode or internal/rdb of the same name, and restores read their files with scratch
// engines this driver starts.
type Engines struct{ Driver *Driver }

var _ driver.Engines = Engines{}

// Ping sends PING without AUTH: a NOAUTH reply is an answer too.
func (Engines) Ping(ctx context.Context, n resp.Node, timeout time.Duration) bool {
	n.Password = ""
	err := resp.Ping(ctx, n, timeout)
	var reply resp.Error
	return err == nil || errors.As(err, &reply)
}

func (Engines) Inspect(ctx context.Context, n resp.Node) (replication.State, error) {
	return replication.Inspect(ctx, n)
}

func (Engines) Attach(ctx context.Context, replica, primary resp.Node) error {
	return replication.Attach(ctx, replica, primary)
}

func (Engines) MostUpToDate(ctx context.Context, candidates []resp.Node) (int, replication.State, error) {
	return replication.MostUpToDate(ctx, candidates)
}

func (Engines) Promote(ctx context.Context, candidate resp.Node, oldPrimary *resp.Node, others []resp.Node) error {
	return replication.Promote(ctx, candidate, oldPrimary, others)
}

func (Engines) Databases(ctx context.Context, n resp.Node) ([]int, error) {
	return replication.Databases(ctx, n)
}

func (Engines) PauseAndSave(ctx context.Context, n resp.Node, pause time.Duration) error {
	return replication.PauseAndSave(ctx, n, pause)
}

func (Engines) Listen(ctx context.Context, n resp.Node, addrs []string) error {
	return replication.Listen(ctx, n, addrs)
}

func (Engines) ClusterInspect(ctx context.Context, any resp.Node) ([]clustermode.ShardState, error) {
	return clustermode.Inspect(ctx, any)
}

func (Engines) ClusterConverged(ctx context.Context, nodes []resp.Node) (bool, string, error) {
	return clustermode.Converged(ctx, nodes)
}

func (Engines) ClusterCreate(ctx context.Context, shards []clustermode.ShardSpec) error {
	return clustermode.Create(ctx, shards)
}

func (Engines) ClusterAddShard(ctx context.Context, seed resp.Node, shard clustermode.ShardSpec) error {
	return clustermode.AddShard(ctx, seed, shard)
}

func (Engines) ClusterAddReplica(ctx context.Context, seed, primary, replica resp.Node) error {
	return clustermode.AddReplica(ctx, seed, primary, replica)
}

func (Engines) ClusterRemoveShard(ctx context.Context, seed, primary resp.Node, replicas []resp.Node) error {
	return clustermode.RemoveShard(ctx, seed, primary, replicas)
}

func (Engines) ClusterFailover(ctx context.Context, replica resp.Node, mode clustermode.FailoverMode) error {
	return clustermode.Failover(ctx, replica, mode)
}

func (Engines) ClusterForget(ctx context.Context, keep []resp.Node) ([]string, error) {
	return clustermode.Forget(ctx, keep)
}

func (Engines) MoveSlots(ctx context.Context, seed, from, to resp.Node, slots hashslot.Range, progress func(done int)) error {
	return clustermode.MoveSlots(ctx, seed, from, to, slots, progress)
}

func (Engines) Fetch(ctx context.Context, n resp.Node, w io.Writer) (int64, error) {
	return rdb.Fetch(ctx, n, w)
}

// CopyKeys reads file with a scratch engine of binary and copies its keys into target.
func (e Engines) CopyKeys(ctx context.Context, binary, file string, target resp.Node) (int64, error) {
	s, err := e.Driver.StartScratch(ctx, binary, file)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return rdb.CopyKeys(ctx, s.Node, target)
}
