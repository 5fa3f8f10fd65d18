package rdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/replication"
)

// TestCopyKeysMerges fetches two engines' datasets as RDB files and copies both into a third engine that
// holds keys of its own: every key arrives with its value and expiry, and a key present in both is the
// copied one.
func TestCopyKeysMerges(t *testing.T) {
	for _, bin := range engines(t) {
		t.Run(bin, func(t *testing.T) {
			ctx := context.Background()
			binary, _ := exec.LookPath(bin)
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
				if _, err := Fetch(ctx, replication.Node{Addr: src.Options().Addr, Password: "secret"}, f); err != nil {
					t.Fatal(err)
				}
				f.Close()
				files = append(files, f.Name())
			}
			dst := startEngine(t, bin, t.TempDir(), "target")
			dst.Set(ctx, "own", "kept", 0)
			dst.Set(ctx, "shared", "old", 0)
			for _, file := range files {
				n, err := CopyKeys(ctx, binary, file, replication.Node{Addr: dst.Options().Addr, Password: "target"})
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

func TestCopyKeysReportsABrokenFile(t *testing.T) {
	bins := engines(t)
	binary, _ := exec.LookPath(bins[0])
	file := filepath.Join(t.TempDir(), "broken.rdb")
	if err := os.WriteFile(file, []byte("REDIS0011garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := startEngine(t, bins[0], t.TempDir(), "target")
	if _, err := CopyKeys(context.Background(), binary, file, replication.Node{Addr: dst.Options().Addr, Password: "target"}); err == nil {
		t.Fatal("CopyKeys of a broken file succeeded")
	}
}
