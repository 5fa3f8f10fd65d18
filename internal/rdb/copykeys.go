package rdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// copyBatch is how many keys CopyKeys reads and writes per round trip.
const copyBatch = 500

// CopyKeys copies every key of the engine src, with its value and time to live, into the engine at target
// (RESTORE … REPLACE, so copying again is harmless) and returns how many it copied. src is a scratch engine
// serving one RDB file (driver/process StartScratch): this merges the files of several node groups into one
// node.
func CopyKeys(ctx context.Context, src, target resp.Node) (int64, error) {
	from := redis.NewClient(clientOptions(src))
	defer from.Close()
	to := redis.NewClient(clientOptions(target))
	defer to.Close()
	var copied int64
	var cursor uint64
	for {
		keys, next, err := from.Scan(ctx, cursor, "", copyBatch).Result()
		if err != nil {
			return copied, fmt.Errorf("rdb: scan: %w", err)
		}
		n, err := copyBatchOfKeys(ctx, from, to, keys)
		copied += n
		if err != nil {
			return copied, err
		}
		if cursor = next; cursor == 0 {
			return copied, nil
		}
	}
}

// clientOptions are go-redis options for n, over TCP or its Unix socket, with no retries.
func clientOptions(n resp.Node) *redis.Options {
	o := &redis.Options{Addr: n.Addr, Username: n.User, Password: n.Password, TLSConfig: n.TLS, ReadTimeout: 30 * time.Second, MaxRetries: -1}
	if strings.HasPrefix(n.Addr, "/") {
		o.Network = "unix"
	}
	return o
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
