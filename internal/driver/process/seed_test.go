package process

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resp"
)

// A seeded engine that loads its dataset for longer than the driver waits for a first answer still starts:
// LOADING is an answer. The restore is whole.
func TestEnsureWaitsForALongLoad(t *testing.T) {
	const keys = 1_000_000
	dir := newDataDir(t)
	d := newDriver(t, dir)
	src := newSpec(t, driver.EngineValkey, "seedsrc-0001")
	src.MaxMemoryBytes = 1 << 30
	src.Config = map[string]string{"enable-debug-command": "local"}
	ensure(t, d, src)
	if got := dialEngine(t, src.Port).do("DEBUG", "POPULATE", strconv.Itoa(keys), "key", "32"); got != "OK" {
		t.Fatalf("DEBUG POPULATE: %v", got)
	}
	seed := filepath.Join(t.TempDir(), "seed.rdb")
	f, err := os.Create(seed)
	if err != nil {
		t.Fatal(err)
	}
	size, err := Engines{}.Fetch(t.Context(), resp.Node{Addr: addr(src.Port)}, f)
	if cerr := f.Close(); err != nil || cerr != nil {
		t.Fatalf("fetching the seed: %v %v", err, cerr)
	}

	// The engine listens within tens of milliseconds, then loads for about a second.
	d.readyTimeout = 250 * time.Millisecond
	dst := newSpec(t, driver.EngineValkey, "seeddst-0001")
	dst.MaxMemoryBytes, dst.SeedRDB = 1<<30, seed
	start := time.Now()
	ensure(t, d, dst)
	t.Logf("a %d-byte seed of %d keys loaded in %s (the driver waits %s for a first answer)", size, keys, time.Since(start), d.readyTimeout)
	if n := dialEngine(t, dst.Port).do("DBSIZE"); n != int64(keys) {
		t.Errorf("DBSIZE after the restore = %v, want %d", n, keys)
	}
	if log, _ := os.ReadFile(filepath.Join(d.nodesDir, dst.ID, logFileName)); !strings.Contains(string(log), "Done loading RDB") {
		t.Errorf("engine.log does not say the RDB was loaded:\n%s", log)
	}
}

// A seed the engine cannot read is reported as ErrSeedRejected with the engine's words, and leaves no
// process behind; so is a file a scratch engine cannot read.
func TestEnsureReportsARefusedSeed(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.rdb")
	if err := os.WriteFile(bad, []byte("REDIS0009\xfa\x09redis-ver\x057.0.0garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, e := range []driver.Engine{driver.EngineRedis, driver.EngineValkey} {
		t.Run(string(e), func(t *testing.T) {
			dir := newDataDir(t)
			d := newDriver(t, dir)
			spec := newSpec(t, e, "badseed-0001")
			spec.SeedRDB = bad
			_, err := d.Ensure(t.Context(), spec)
			if !errors.Is(err, driver.ErrSeedRejected) || errors.Is(err, driver.ErrConfigRejected) {
				t.Fatalf("Ensure with a damaged seed: err = %v, want ErrSeedRejected", err)
			}
			r, ok := errors.AsType[*driver.Refusal](err)
			if !ok || !strings.Contains(r.Reason, "loading DB") || strings.Contains(r.Reason, " # ") {
				t.Errorf("err = %#v, want a Refusal whose Reason is the engine's line about loading the DB", err)
			}
			if pids := nodePIDs(t, dir); len(pids) > 0 {
				t.Errorf("engine processes left after a refused seed: %v", pids)
			}
			// The scratch engine that reads a restore's further files says the same.
			if _, err := d.StartScratch(t.Context(), spec.Binary, bad); !errors.Is(err, driver.ErrSeedRejected) {
				t.Errorf("StartScratch with a damaged file: err = %v, want ErrSeedRejected", err)
			}
		})
	}
}
