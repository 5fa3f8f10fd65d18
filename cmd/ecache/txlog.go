package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ecache/ecache/internal/app"
	"github.com/ecache/ecache/internal/atrest"
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
	keyFile := fs.String("key-file", "", "the key that wraps the log's data key (with --data-key-file: the replica seals what it keeps on disk)")
	dataKeyFile := fs.String("data-key-file", "", "the log's data key, sealed with --key-file's key")
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
	logger, err := app.NewLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	dataKey, err := loadDataKey(*keyFile, *dataKeyFile)
	if err != nil {
		return err
	}
	r, err := txlog.StartReplica(txlog.ReplicaConfig{Self: *self, Dir: *dir, Peers: list, DataKey: dataKey}, logger)
	if err != nil {
		return err
	}
	logger.Info("log replica serving", "id", self.ID, "raft", self.RaftAddr, "api", self.APIAddr)
	<-ctx.Done()
	return r.Close()
}

// loadDataKey opens the log's sealed data key with the key in keyFile; nil when neither is given.
func loadDataKey(keyFile, dataKeyFile string) ([]byte, error) {
	if keyFile == "" && dataKeyFile == "" {
		return nil, nil
	}
	if keyFile == "" || dataKeyFile == "" {
		return nil, fmt.Errorf("--key-file and --data-key-file go together")
	}
	kek, err := atrest.LoadKey(keyFile)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(dataKeyFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	plain, err := atrest.Open(bufio.NewReader(f), atrest.AnyLabel(kek))
	if err != nil {
		return nil, fmt.Errorf("--data-key-file: %w", err)
	}
	key, err := io.ReadAll(plain)
	if err != nil {
		return nil, fmt.Errorf("--data-key-file: %w", err)
	}
	return key, nil
}
