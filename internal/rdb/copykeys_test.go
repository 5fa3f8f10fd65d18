package rdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp"
	"github.com/redis/go-redis/v9"
)

// TestCopyKeysMerges fetches two engines' datasets as RDB files and copies both into a third engine that
// holds keys of its own: every key arrives with its value and expiry, and a key present in both is the
// copied one.
func TestCopyKeysMerges(t *testing.T) {
	for _, bin := range engines(t) {
		t.Run(bin, func(t *testing.T) {
			ctx := context.Background()
			var files []string
			for shard := range 2 {
				src := startEngine(t, bin, t.TempDir(), "secret")
				p := src.Pipeline()
				for i := range 3000 {
					p.Set(ctx, fmt.Sprintf("k%d:%d", shard, i), i, 0)
				}
				p.HSet(ctx, fmt.Sprintf("h%d", shard), "f", shard)
				p.Set(ctx, fmt.Sprintf("ttl%d", shard), "v", time.Hour)
				p.Set(ctx, "shared", fmt.Sprint(shard), 0)
				if _, err := p.Exec(ctx); err != nil {
					t.Fatal(err)
				}
				f, err := os.Create(filepath.Join(t.TempDir(), "shard.rdb"))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Fetch(ctx, resp.Node{Addr: src.Options().Addr, Password: "secret"}, f); err != nil {
					t.Fatal(err)
				}
				f.Close()
				files = append(files, f.Name())
			}
			dst := startEngine(t, bin, t.TempDir(), "target")
			dst.Set(ctx, "own", "kept", 0)
			dst.Set(ctx, "shared", "old", 0)
			for _, file := range files {
				src := loadFile(t, bin, file)
				n, err := CopyKeys(ctx, resp.Node{Addr: src.Options().Addr, Password: "source"}, resp.Node{Addr: dst.Options().Addr, Password: "target"})
				if err != nil || n != 3003 {
					t.Fatalf("CopyKeys(%s) = %d, %v; want 3003 keys", file, n, err)
				}
			}
			if got := dst.DBSize(ctx).Val(); got != 2*3002+2 {
				t.Errorf("DBSIZE = %d, want %d", got, 2*3002+2)
			}
			for shard := range 2 {
				for i := range 3000 {
					if v := dst.Get(ctx, fmt.Sprintf("k%d:%d", shard, i)).Val(); v != fmt.Sprint(i) {
						t.Fatalf("k%d:%d = %q", shard, i, v)
					}
				}
				if v := dst.HGet(ctx, fmt.Sprintf("h%d", shard), "f").Val(); v != fmt.Sprint(shard) {
					t.Errorf("h%d = %q", shard, v)
				}
				if ttl := dst.TTL(ctx, fmt.Sprintf("ttl%d", shard)).Val(); ttl <= 0 || ttl > time.Hour {
					t.Errorf("TTL of ttl%d = %v", shard, ttl)
				}
			}
			if v := dst.Get(ctx, "shared").Val(); v != "1" {
				t.Errorf("shared = %q, want the last file's value", v)
			}
			if ttl := dst.TTL(ctx, "k0:1").Val(); ttl != -1 {
				t.Errorf("TTL of a key without expiry = %v", ttl)
			}
			if v := dst.Get(ctx, "own").Val(); v != "kept" {
				t.Errorf("the target's own key = %q", v)
			}
		})
	}
}

// loadFile starts an engine that loads an RDB file, as a restore's scratch engine does.
func loadFile(t *testing.T, bin, file string) *redis.Client {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return startEngine(t, bin, dir, "source")
}
