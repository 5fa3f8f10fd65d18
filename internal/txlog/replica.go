// Package txlog is the durability transaction log: an ordered log of bytes (the effects a shard's primary
// writes), kept by several log replicas that agree through Raft (hashicorp/raft) before a write counts as
// committed. Each replica is its own process with its own directory (the Raft log and snapshots, and the
// committed bytes in a bbolt file); clients reach the replicas over a small HTTP API. Writes carry an epoch
// (the primary's term, raised by a fence when another primary takes over), so a primary that lost its role
// can commit nothing; and the offset they start at, so a write retried after a leader change is committed
// once and none is lost in between.
package txlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Peer is one log replica: its id, the address its Raft transport listens on and the address of its API.
type Peer struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	APIAddr  string `json:"apiAddr"`
}

// ReplicaConfig describes one log replica.
type ReplicaConfig struct {
	Self  Peer
	Dir   string
	Peers []Peer // every replica of the log, Self included; the first start forms the log with them
	// Timing of the Raft protocol; zero values take loopback-friendly defaults (elections within about
	// half a second).
	HeartbeatTimeout time.Duration
	// DataKey, when set (32 bytes, the same for every replica of the log), seals what the replica keeps on
	// disk: the Raft log's commands and the committed bytes (and so the snapshots, copies of the latter).
	DataKey []byte
}

// Replica is a running log replica.
type Replica struct {
	cfg   ReplicaConfig
	raft  *raft.Raft
	fsm   *fsm
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	api   *http.Server
	log   *slog.Logger
	// closing is closed when Close begins: reads waiting for the log to grow return then, and append
	// streams end.
	closing chan struct{}
	streams sync.WaitGroup
}

// applyTimeout bounds how long one write waits to be committed.
const applyTimeout = 10 * time.Second

// StartReplica starts a log replica: it opens (or creates) its state in cfg.Dir, joins the log's Raft group
// (forming it on the very first start) and serves its API.
func StartReplica(cfg ReplicaConfig, logger *slog.Logger) (*Replica, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, log: logger.With("replica", cfg.Self.ID), closing: make(chan struct{})}
	seal, err := newSealer(cfg.DataKey)
	if err != nil {
		return nil, err
	}
	if r.fsm, err = openFSM(cfg.Dir, seal); err != nil {
		return nil, err
	}
	fail := func(err error) (*Replica, error) {
		r.Close()
		return nil, err
	}
	if r.store, err = raftboltdb.NewBoltStore(filepath.Join(cfg.Dir, "raft.db")); err != nil {
		return fail(err)
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 2, io.Discard)
	if err != nil {
		return fail(err)
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.Self.RaftAddr)
	if err != nil {
		return fail(err)
	}
	if r.trans, err = raft.NewTCPTransport(cfg.Self.RaftAddr, addr, 4, 5*time.Second, io.Discard); err != nil {
		return fail(err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Self.ID)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: slogWriter{r.log}, Level: hclog.Warn})
	hb := cfg.HeartbeatTimeout
	if hb == 0 {
		hb = 300 * time.Millisecond
	}
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = hb, hb, hb/2
	rc.CommitTimeout = 5 * time.Millisecond
	// Appends of a stream reach the leader one after the other: buffered, those that arrive during a
	// commit go to disk together in the next (group commit).
	rc.BatchApplyCh = true
	var logs raft.LogStore = r.store
	if seal != nil {
		logs = sealedLogs{LogStore: r.store, s: seal}
	}
	if r.raft, err = raft.NewRaft(rc, r.fsm, logs, r.store, snaps, r.trans); err != nil {
		return fail(err)
	}
	existing, err := raft.HasExistingState(r.store, r.store, snaps)
	if err != nil {
		return fail(err)
	}
	if !existing {
		var servers []raft.Server
		for _, p := range cfg.Peers {
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
		}
		// Every replica bootstraps with the same configuration; the ones that lose the race are told so.
		if err := r.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fail(err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Self.APIAddr)
	if err != nil {
		return fail(err)
	}
	r.api = &http.Server{Handler: r.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.api.Serve(newSniffListener(ln, r.serveStream)) }()
	return r, nil
}

// Close stops the replica: its API, its Raft node and its files. The state stays in its directory.
func (r *Replica) Close() error {
	var errs []error
	close(r.closing)
	if r.api != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		errs = append(errs, r.api.Shutdown(ctx))
		cancel()
	}
	if r.raft != nil {
		errs = append(errs, r.raft.Shutdown().Error())
	}
	if !waitGroupWithin(&r.streams, streamsCloseTimeout) {
		// A stream's writer waits on an apply future that the stopped Raft node never answered (seen once
		// in a test: Close then hung for good). The connection is closed and nothing of the replica is used
		// after that wait, so Close goes on and leaves that goroutine behind.
		errs = append(errs, fmt.Errorf("txlog: a stream was still waiting for Raft %v after shutdown", streamsCloseTimeout))
	}
	if r.trans != nil {
		errs = append(errs, r.trans.Close())
	}
	if r.store != nil {
		errs = append(errs, r.store.Close())
	}
	if r.fsm != nil && r.fsm.db != nil {
		errs = append(errs, r.fsm.close())
	}
	return errors.Join(errs...)
}

// leaderAPI is the API address of the current leader, "" when none is known.
func (r *Replica) leaderAPI() string {
	_, id := r.raft.LeaderWithID()
	for _, p := range r.cfg.Peers {
		if raft.ServerID(p.ID) == id {
			return p.APIAddr
		}
	}
	return ""
}

// apply commits a command through Raft (on the leader) and returns its result.
func (r *Replica) apply(cmd []byte) (result, error) {
	f := r.raft.Apply(cmd, applyTimeout)
	if err := f.Error(); err != nil {
		return result{}, err
	}
	res, _ := f.Response().(result)
	return res, nil
}

// slogWriter passes Raft's log lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(string(p))
	return len(p), nil
}

// streamsCloseTimeout bounds how long Close waits for the append streams to end.
const streamsCloseTimeout = 5 * time.Second

// waitGroupWithin waits for wg for at most d and reports whether it was done.
func waitGroupWithin(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
