package rdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/replication"
)

// copyBatch is how many keys CopyKeys reads and writes per round trip.
const copyBatch = 500

// CopyKeys copies every key of an RDB file, with its value and time to live, into the engine at target
// (RESTORE … REPLACE, so copying again is harmless) and returns how many it copied. The file is read in place
// by a scratch engine: binary (valkey-server or redis-server) started with no TCP port, no persistence, and
// its Unix socket and log in a temporary directory; it is stopped when the copy ends. This merges the files of
// several node groups into one node.
func CopyKeys(ctx context.Context, binary, file string, target replication.Node) (int64, error) {
	dir, err := os.MkdirTemp("", "ecache-rdb-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "engine.sock")
	cmd := exec.Command(binary, "--port", "0", "--unixsocket", sock, "--dir", filepath.Dir(file), "--dbfilename", filepath.Base(file),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "engine.log"))
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("rdb: scratch engine: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	src := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1})
	defer src.Close()
	if err := waitLoaded(ctx, src, exited, dir); err != nil {
		return 0, err
	}
	dst := redis.NewClient(&redis.Options{Addr: target.Addr, Password: target.Password, TLSConfig: target.TLS, ReadTimeout: 30 * time.Second})
	defer dst.Close()
	var copied int64
	var cursor uint64
	for {
		keys, next, err := src.Scan(ctx, cursor, "", copyBatch).Result()
		if err != nil {
			return copied, fmt.Errorf("rdb: scan: %w", err)
		}
		n, err := copyBatchOfKeys(ctx, src, dst, keys)
		copied += n
		if err != nil {
			return copied, err
		}
		if cursor = next; cursor == 0 {
			return copied, nil
		}
	}
}

// waitLoaded waits until the scratch engine answers PING (it answers only once the file is loaded).
func waitLoaded(ctx context.Context, src *redis.Client, exited <-chan struct{}, dir string) error {
	for {
		err := src.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "engine.log"))
			return fmt.Errorf("rdb: scratch engine exited before loading the file:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// copyBatchOfKeys dumps keys from src and restores them into dst with their remaining time to live.
func copyBatchOfKeys(ctx context.Context, src, dst *redis.Client, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	dumps := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err := src.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			dumps[i], ttls[i] = p.Dump(ctx, k), p.PTTL(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("rdb: dump: %w", err)
	}
	var n int64
	_, err = dst.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			payload, err := dumps[i].Result()
			if err != nil {
				continue // expired since the scan
			}
			ttl := ttls[i].Val()
			switch {
			case ttl == 0:
				continue // expires within the millisecond
			case ttl < 0:
				ttl = 0 // no expiry
			}
			p.RestoreReplace(ctx, k, ttl, payload)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rdb: restore: %w", err)
	}
	return n, nil
}
