package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ecache/ecache/internal/txlog"
)

// parsePeers reads --peers: id=raft-address=api-address, comma-separated.
func parsePeers(s string) ([]txlog.Peer, error) {
	var out []txlog.Peer
	for _, item := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(item), "=")
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			return nil, fmt.Errorf("--peers: %q is not id=raft-address=api-address", item)
		}
		out = append(out, txlog.Peer{ID: f[0], RaftAddr: f[1], APIAddr: f[2]})
	}
	return out, nil
}

// runTxlogReplica runs one replica of a durability transaction log until ctx ends.
func runTxlogReplica(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("txlog-replica", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "this replica's id, one of --peers")
	dir := fs.String("dir", "", "directory of this replica's state (Raft log, snapshots, committed bytes)")
	peers := fs.String("peers", "", "every replica of the log: id=raft-address=api-address, comma-separated")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" || *dir == "" || *peers == "" {
		return fmt.Errorf("txlog-replica needs --id, --dir and --peers")
	}
	list, err := parsePeers(*peers)
	if err != nil {
		return err
	}
	var self *txlog.Peer
	for i := range list {
		if list[i].ID == *id {
			self = &list[i]
		}
	}
	if self == nil {
		return fmt.Errorf("--id %s is not one of --peers", *id)
	}
	logger, err := newLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	r, err := txlog.StartReplica(txlog.ReplicaConfig{Self: *self, Dir: *dir, Peers: list}, logger)
	if err != nil {
		return err
	}
	logger.Info("log replica serving", "id", self.ID, "raft", self.RaftAddr, "api", self.APIAddr)
	<-ctx.Done()
	return r.Close()
}
