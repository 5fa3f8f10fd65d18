package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// openEnd is the value tried at the open end of an integer range ("1-"): the largest a C int holds.
const openEnd = "2147483647"

// boundValues are the values a parameter's allowed values name: both ends of each range (openEnd for an
// open one), each listed value, each switch position. Free-form strings give none.
func boundValues(p Param) []string {
	allowed := p.AllowedValues
	if p.ParameterName == "rename-commands" {
		return []string{"FLUSHALL flushall-renamed"} // pairs of a command and its new name, not one of the list
	}
	if p.DataType == TypeBoolean && allowed == "" {
		allowed = "0,1"
	}
	var out []string
	for item := range strings.SplitSeq(allowed, ",") {
		item = strings.TrimSpace(item)
		if item == "" || item == "-" {
			continue
		}
		if p.DataType == TypeString || p.DataType == TypeBoolean {
			out = append(out, item)
			continue
		}
		if _, err := strconv.ParseFloat(item, 64); err == nil {
			out = append(out, item)
			continue
		}
		i := strings.Index(item[1:], "-") + 1 // a range dash, not a leading minus
		lo, hi := item[:i], item[i+1:]
		if hi == "" {
			hi = openEnd
			if p.DataType == TypeFloat {
				hi = "100"
			}
		}
		out = append(out, lo, hi)
	}
	return slices.Compact(out)
}

// familiesOnHost are the parameter families of the versions this host runs, each with its binary.
func familiesOnHost(h Host) map[string]Binary {
	out := map[string]Binary{}
	for _, b := range h.Binaries() {
		for _, v := range h.Versions(b.Engine) {
			out[v.Family] = b
		}
	}
	return out
}

// buildLimits are values that engine builds may refuse for how they were built rather than for the value:
// Debian's Valkey and Redis link the system jemalloc, without the changes active defragmentation needs. A
// node given one shows incompatible-parameters with the engine's words (docs/ARCHITECTURE.md).
var buildLimits = map[string]string{"activedefrag=yes": "compiled with a modified Jemalloc"}

// Every modifiable parameter that reaches the engine, at each end of the range its catalog allows and at
// each value it lists, is one the engine of this host starts with: a parameter group ElastiCache accepts
// never leaves a node unable to start on its own account (combinations of values can, and then the cluster
// shows incompatible-parameters).
func TestCatalogBoundsStartRealEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engine processes")
	}
	families := familiesOnHost(DefaultHost())
	if len(families) == 0 {
		t.Skip("no engine binaries")
	}
	for family, bin := range families {
		t.Run(family, func(t *testing.T) {
			t.Parallel()
			ps, _ := Parameters(family)
			tried := 0
			for _, p := range ps {
				if !p.IsModifiable || p.EngineDirective == "" || newerThanBinary(p, bin.Version) {
					continue
				}
				for _, v := range boundValues(p) {
					tried++
					cfg := NodeConfig{Family: family, NodeType: "cache.m5.large", EngineVersion: bin.Version,
						Values: map[string]string{p.ParameterName: v}, MaxConnections: 1000}
					out, ok := startsWith(t, bin, cfg)
					if words, limited := buildLimits[p.ParameterName+"="+v]; limited && strings.Contains(out, words) {
						continue
					}
					if !ok {
						t.Errorf("%s=%s: %s %s refuses it:\n%s", p.ParameterName, v, bin.Path, bin.Version, out)
					}
				}
			}
			if tried == 0 {
				t.Fatalf("no parameter of %s tried", family)
			}
			t.Logf("%s: %d values tried on %s %s", family, tried, bin.Path, bin.Version)
		})
	}
}

// startsWith starts bin with what ecache derives from cfg and reports whether the engine comes up, with
// what it printed when it does not.
func startsWith(t *testing.T, bin Binary, cfg NodeConfig) (string, bool) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "node.sock")
	var cmd *exec.Cmd
	if bin.Engine == EngineMemcached {
		args, err := MemcachedArgs(cfg)
		if err != nil {
			return err.Error(), false
		}
		args = append(args, "-s", sock)
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		cmd = exec.Command(bin.Path, args...)
	} else {
		s, err := RedisSettings(cfg)
		if err != nil {
			return err.Error(), false
		}
		conf := append([]string{"port 0", "unixsocket " + sock, "daemonize no", `logfile ""`, `save ""`, "dir " + dir}, confLines(s)...)
		path := filepath.Join(dir, "node.conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(bin.Path, path)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-done
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // databases=1200000 takes seconds on a busy machine
	defer cancel()
	for {
		if _, err := os.Stat(sock); err == nil {
			return "", true
		}
		select {
		case err := <-done:
			done <- err
			return fmt.Sprintf("%v\n%s", err, out.String()), false
		case <-ctx.Done():
			return "did not listen within 90s:\n" + out.String(), false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// memcached run with what ecache derives from the defaults has memcached's own slab classes: ecache's
// arguments say what the engine's defaults say, in the units the engine reads them.
func TestMemcachedDefaultsKeepTheEnginesSlabClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engine processes")
	}
	bin, ok := DefaultHost().Binary(EngineMemcached)
	if !ok {
		t.Skip("no memcached binary")
	}
	args, err := MemcachedArgs(NodeConfig{Family: Family(EngineMemcached, bin.Version), NodeType: "cache.m5.large", EngineVersion: bin.Version,
		MaxConnections: 1000})
	if err != nil {
		t.Fatal(err)
	}
	own, derived := slabClasses(t, bin), slabClasses(t, bin, args...)
	if len(own) < 10 || !slices.Equal(own, derived) {
		t.Errorf("slab classes with ecache's arguments %q:\n%q\nwith memcached's defaults:\n%q", args, derived, own)
	}
}

// slabClasses are the "slab class" lines memcached -vv prints as it starts with args.
func slabClasses(t *testing.T, bin Binary, args ...string) []string {
	t.Helper()
	args = append(args, "-vv", "-s", filepath.Join(t.TempDir(), "mc.sock"))
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin.Path, args...).CombinedOutput() // runs until the context ends it
	var classes []string
	for l := range strings.Lines(string(out)) {
		if strings.HasPrefix(l, "slab class") {
			classes = append(classes, strings.TrimSpace(l))
		}
	}
	return classes
}
