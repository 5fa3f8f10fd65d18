package process

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resp"
)

// TestScratchAndCopyKeys saves a dataset from one node, copies its keys into another node through a scratch
// engine, and checks that the scratch engine and its directory are gone afterwards; a file that is not an
// RDB file fails with the engine's log.
func TestScratchAndCopyKeys(t *testing.T) {
	for _, e := range []driver.Engine{driver.EngineRedis, driver.EngineValkey} {
		t.Run(string(e), func(t *testing.T) {
			ctx := t.Context()
			d := newDriver(t, newDataDir(t))
			src, dst := newSpec(t, e, "src-0001"), newSpec(t, e, "dst-0001")
			src.Config = map[string]string{"repl-diskless-sync-delay": "0"} // as the controller sets it
			ensure(t, d, src)
			ensure(t, d, dst)
			srcNode, dstNode := resp.Node{Addr: addr(src.Port)}, resp.Node{Addr: addr(dst.Port)}
			c, err := resp.Dial(ctx, srcNode, resp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				if _, err := c.Do(ctx, "SET", "k"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			file := filepath.Join(t.TempDir(), "dump.rdb")
			f, err := os.Create(file)
			if err != nil {
				t.Fatal(err)
			}
			eng := Engines{Driver: d}
			if _, err := eng.Fetch(ctx, srcNode, f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			n, err := eng.CopyKeys(ctx, src.Binary, file, dstNode)
			if err != nil || n != 100 {
				t.Fatalf("CopyKeys = %d, %v; want 100 keys", n, err)
			}
			dc, err := resp.Dial(ctx, dstNode, resp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer dc.Close()
			if v, err := resp.String(dc.Do(ctx, "GET", "k42")); err != nil || v != "42" {
				t.Errorf("GET k42 on the target = %q, %v", v, err)
			}
			if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "ecache-scratch-*", "engine.sock")); len(left) > 0 {
				t.Errorf("scratch engines left running: %v", left)
			}

			broken := filepath.Join(t.TempDir(), "broken.rdb")
			if err := os.WriteFile(broken, []byte("REDIS0011garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := d.StartScratch(ctx, src.Binary, broken); err == nil || !strings.Contains(err.Error(), "engine.log") {
				t.Errorf("StartScratch of a broken file: %v, want an error with the engine's log", err)
			}
		})
	}
}
