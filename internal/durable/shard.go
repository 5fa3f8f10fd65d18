package durable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecache/ecache/internal/replication"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

// Shard is ecache's side of one durable shard: the relay its replicas follow and the shipper of its
// current primary. Leadership goes through the log: every primary ships under an epoch of its own, raised
// by a fence before it, so a primary that lost the role can commit nothing; and a replica becomes primary
// only once it has applied the whole log (CatchUp), so it holds every acknowledged write.
type Shard struct {
	cfg   ShardConfig
	relay *Relay
	async atomic.Bool // the group's Durability is async: the shipper lingers to append more at once

	mu      sync.Mutex
	primary resp.Node
	epoch   uint64
	stop    context.CancelFunc
	done    <-chan error // the shipper's end
	err     error        // why the shipper ended
}

// SetAsync tells the shard whether its group's Durability is async: then nobody waits for an append, and
// the shipper lingers up to asyncLinger to make fewer, larger ones (each costs the log replicas a Raft round
// of disk writes, on the CPUs the engines use too).
func (s *Shard) SetAsync(on bool) { s.async.Store(on) }

// asyncLinger is how long an async shard's shipper waits to gather more of the stream into one append.
const asyncLinger = 20 * time.Millisecond

func (s *Shard) linger() time.Duration {
	if s.async.Load() {
		return asyncLinger
	}
	return 0
}

// ShardConfig says which log and checkpoints a shard uses.
type ShardConfig struct {
	Log         *txlog.Client
	Checkpoints *Checkpoints
	// Passwords are the AUTH passwords a replica may give the relay (RelayConfig.Passwords).
	Passwords func() ([]string, error)
	// NextEpoch records a new epoch, greater than any before, and returns it: the caller keeps it where
	// it outlives this process (the store), so that epochs never repeat.
	NextEpoch func(context.Context) (uint64, error)
	// ShipperEnded, when set, is called when the current primary's shipper ends on its own (the primary
	// died, or its link broke): writes wait until the shard leads again.
	ShipperEnded func(err error)
	Logger       *slog.Logger
}

// NewShard returns a shard with no primary yet; its relay serves replicas from the checkpoints at once.
func NewShard(cfg ShardConfig) *Shard {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Shard{cfg: cfg, relay: NewRelay(RelayConfig{Log: cfg.Log, Checkpoints: cfg.Checkpoints, Passwords: cfg.Passwords, Logger: cfg.Logger})}
}

// Relay is where the shard's endpoints send replicas.
func (s *Shard) Relay() *Relay { return s.relay }

// Close stops the shipper and the relay.
func (s *Shard) Close() {
	s.mu.Lock()
	if s.stop != nil {
		s.stop()
	}
	s.mu.Unlock()
	s.relay.Close()
}

// Lead makes primary the node whose writes go into the log: under a new epoch, its shipper attaches (its
// dataset becomes the shard's checkpoint) and Lead returns once it follows the primary's stream. Writes on
// the primary are acknowledged (WAIT 1) from then on. A previous shipper is stopped first.
func (s *Shard) Lead(ctx context.Context, primary resp.Node) error {
	s.mu.Lock()
	if s.stop != nil {
		s.stop()
	}
	s.mu.Unlock()
	epoch, err := s.cfg.NextEpoch(ctx)
	if err != nil {
		return fmt.Errorf("durable shard: epoch: %w", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	shipper, done := Ship(sctx, ShipperConfig{Primary: primary, Log: s.cfg.Log, Epoch: epoch,
		Dataset: func(offset uint64, write func(io.Writer) error) error {
			_, err := s.cfg.Checkpoints.Save(offset, write)
			return err
		},
		Linger: s.linger})
	select {
	case <-shipper.Attached():
	case err := <-done:
		stop()
		return fmt.Errorf("durable shard: shipper of epoch %d: %w", epoch, err)
	case <-ctx.Done():
		stop()
		return ctx.Err()
	}
	ended := make(chan error, 1)
	s.mu.Lock()
	s.primary, s.epoch, s.stop, s.done, s.err = primary, epoch, stop, ended, nil
	s.mu.Unlock()
	go func() {
		err := <-done
		s.mu.Lock()
		if s.done == ended {
			s.err = err
		}
		s.mu.Unlock()
		ended <- err
		s.cfg.Logger.Info("durable shard: shipper ended", "primary", primary.Addr, "epoch", epoch, "err", err)
		if s.cfg.ShipperEnded != nil && sctx.Err() == nil {
			s.cfg.ShipperEnded(err)
		}
	}()
	return nil
}

// Leading is the primary whose writes go into the log and its epoch; ok is false when there is none or
// its shipper has ended (the link broke: Lead again, or fail over).
func (s *Shard) Leading() (primary resp.Node, epoch uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil || s.err != nil {
		return s.primary, s.epoch, false
	}
	select {
	case <-s.done:
		return s.primary, s.epoch, false
	default:
		return s.primary, s.epoch, true
	}
}

// CatchUp prepares replica to take over: it fences the log with a new epoch (the current primary commits
// nothing more, and its shipper ends) and waits until the replica, fed by the relay, has applied the log to
// its end. The caller then promotes the replica and makes it Lead.
func (s *Shard) CatchUp(ctx context.Context, replica resp.Node) error {
	epoch, err := s.cfg.NextEpoch(ctx)
	if err != nil {
		return fmt.Errorf("durable shard: epoch: %w", err)
	}
	end, err := s.cfg.Log.Fence(ctx, epoch)
	if err != nil {
		return fmt.Errorf("durable shard: fence: %w", err)
	}
	s.mu.Lock()
	if s.stop != nil {
		s.stop()
	}
	s.mu.Unlock()
	for {
		// A replica fed by the relay has applied the log up to its replication offset.
		st, err := replication.Inspect(ctx, replica)
		if err == nil && st.Role == replication.RoleReplica && uint64(st.Offset) >= end {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("durable shard: %s has applied the log to %d of %d: %w", replica.Addr, st.Offset, end, errors.Join(ctx.Err(), err))
		case <-time.After(5 * time.Millisecond):
		}
	}
}
