package engine

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// fakeHost builds a Host through DetectHost with stubbed lookups: bins maps
// a binary name to the output of its version command.
func fakeHost(bins map[string]string) Host {
	lookPath := func(name string) (string, error) {
		if _, ok := bins[name]; !ok {
			return "", exec.ErrNotFound
		}
		return "/opt/bin/" + name, nil
	}
	run := func(bin string, args ...string) ([]byte, error) {
		for name, out := range bins {
			if bin == "/opt/bin/"+name {
				if out == "FAIL" {
					return nil, errors.New("exit status 1")
				}
				return []byte(out), nil
			}
		}
		return nil, errors.New("not found")
	}
	return DetectHost(lookPath, run)
}

var standardHost = map[string]string{
	"redis-server":  "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n",
	"valkey-server": "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=39f7c371e0a96e3d\n",
	"memcached":     "memcached 1.6.18\n",
}

func TestDetectHostFake(t *testing.T) {
	tests := []struct {
		name string
		bins map[string]string
		want []Binary
	}{
		{"all three", standardHost, []Binary{
			{EngineValkey, "/opt/bin/valkey-server", "8.0.1"},
			{EngineRedis, "/opt/bin/redis-server", "7.0.15"},
			{EngineMemcached, "/opt/bin/memcached", "1.6.18"},
		}},
		{"nothing installed", map[string]string{}, nil},
		{"redis-server that is really valkey", map[string]string{
			"redis-server": "Valkey server v=8.0.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64\n",
		}, nil},
		{"failing binary", map[string]string{"memcached": "FAIL", "redis-server": "Redis server v=6.2.14 sha=0\n"},
			[]Binary{{EngineRedis, "/opt/bin/redis-server", "6.2.14"}}},
		{"garbage output", map[string]string{"memcached": "hello\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fakeHost(tt.bins).Binaries()
			if !slices.Equal(got, tt.want) {
				t.Errorf("Binaries() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func versionsOf(vs []Version) []string {
	var out []string
	for _, v := range vs {
		s := v.EngineVersion
		if !v.Exact {
			s += "~"
		}
		out = append(out, s)
	}
	return out
}

func TestHostVersions(t *testing.T) {
	h := fakeHost(standardHost)
	tests := []struct {
		engine string
		want   []string // "~" marks a version served by a nearby binary
	}{
		{EngineRedis, []string{"7.0", "7.1~"}},
		{EngineValkey, []string{"8.0", "8.1~", "8.2~"}},
		{EngineMemcached, []string{"1.6.6", "1.6.12", "1.6.17", "1.6.22"}},
		{"mysql", nil},
	}
	for _, tt := range tests {
		t.Run(tt.engine, func(t *testing.T) {
			got := h.Versions(tt.engine)
			if !slices.Equal(versionsOf(got), tt.want) {
				t.Errorf("Versions(%q) = %q, want %q", tt.engine, versionsOf(got), tt.want)
			}
			for _, v := range got {
				b, _ := h.Binary(tt.engine)
				if v.Binary != b.Path || v.BinaryVersion != b.Version {
					t.Errorf("%s: binary %s %s, want %s %s", v.EngineVersion, v.Binary, v.BinaryVersion, b.Path, b.Version)
				}
			}
		})
	}
	if got := (Host{}).Versions(EngineRedis); got != nil {
		t.Errorf("zero Host offers %v", got)
	}
}

func TestHostResolve(t *testing.T) {
	h := fakeHost(standardHost)
	redis6 := fakeHost(map[string]string{"redis-server": "Redis server v=6.2.14 sha=0\n"})
	tests := []struct {
		name      string
		host      Host
		engine    string
		requested string
		want      string // EngineVersion; "" when an error is expected
		exact     bool
		unknown   bool // ErrUnknownEngine too
	}{
		{"exact", h, EngineRedis, "7.0", "7.0", true, false},
		{"exact patch form", h, EngineRedis, "7.0.7", "7.0", true, false},
		{"nearby minor", h, EngineRedis, "7.1", "7.1", false, false},
		{"major only", h, EngineRedis, "7", "7.1", false, false},
		{"major.x", h, EngineRedis, "7.x", "7.1", false, false},
		{"empty is newest", h, EngineRedis, "", "7.1", false, false},
		{"6.x on a 6.2 binary", redis6, EngineRedis, "6.x", "6.2", true, false},
		{"6.0 on a 6.2 binary", redis6, EngineRedis, "6.0", "6.0", false, false},
		{"valkey exact", h, EngineValkey, "8.0", "8.0", true, false},
		{"valkey empty", h, EngineValkey, "", "8.2", false, false},
		{"valkey major", h, EngineValkey, "8", "8.2", false, false},
		{"memcached exact", h, EngineMemcached, "1.6.22", "1.6.22", true, false},
		{"memcached older patch", h, EngineMemcached, "1.6.6", "1.6.6", true, false},
		{"memcached 1.6.x", h, EngineMemcached, "1.6.x", "1.6.22", true, false},
		{"memcached empty", h, EngineMemcached, "", "1.6.22", true, false},
		{"6.x on a 7 binary", h, EngineRedis, "6.x", "", false, false},
		{"documented but other major", h, EngineRedis, "6.2", "", false, false},
		{"end of life", h, EngineRedis, "2.8.24", "", false, false},
		{"unknown version", h, EngineRedis, "7.5", "", false, false},
		{"unknown patch", h, EngineRedis, "7.0.15", "", false, false},
		{"garbage", h, EngineRedis, "latest", "", false, false},
		{"unknown major", h, EngineRedis, "9", "", false, false},
		{"valkey 7.2 on an 8 binary", h, EngineValkey, "7.2", "", false, false},
		{"memcached 1.5 on a 1.6 binary", h, EngineMemcached, "1.5.16", "", false, false},
		{"missing binary", fakeHost(map[string]string{}), EngineRedis, "7.0", "", false, false},
		{"missing binary, empty request", fakeHost(map[string]string{}), EngineMemcached, "", "", false, false},
		{"unknown engine", h, "mysql", "8.0", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.host.Resolve(tt.engine, tt.requested)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Resolve(%q, %q) = %+v, want an error", tt.engine, tt.requested, got)
				}
				if !errors.Is(err, ErrUnsupportedVersion) {
					t.Errorf("error %v does not match ErrUnsupportedVersion", err)
				}
				if got := errors.Is(err, ErrUnknownEngine); got != tt.unknown {
					t.Errorf("errors.Is(%v, ErrUnknownEngine) = %v, want %v", err, got, tt.unknown)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, %q): %v", tt.engine, tt.requested, err)
			}
			if got.EngineVersion != tt.want || got.Exact != tt.exact {
				t.Errorf("Resolve(%q, %q) = %s exact=%v, want %s exact=%v", tt.engine, tt.requested, got.EngineVersion, got.Exact, tt.want, tt.exact)
			}
			if got.Binary == "" || got.BinaryVersion == "" {
				t.Errorf("Resolve(%q, %q) has no binary: %+v", tt.engine, tt.requested, got)
			}
		})
	}
}

func TestDetectHostReal(t *testing.T) {
	h := DefaultHost()
	for _, tt := range []struct{ engine, bin, want string }{
		{EngineRedis, "/usr/bin/redis-server", "7.0.15"},
		{EngineValkey, "/usr/bin/valkey-server", "8.0.1"},
		{EngineMemcached, "/usr/bin/memcached", "1.6.18"},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			if _, err := os.Stat(tt.bin); err != nil {
				t.Skipf("%s not installed", tt.bin)
			}
			b, ok := h.Binary(tt.engine)
			if !ok {
				t.Fatalf("DefaultHost() did not find %s", tt.bin)
			}
			if b.Path != tt.bin && b.Version != tt.want {
				t.Skipf("another %s is first on PATH: %+v", tt.engine, b)
			}
			if b.Version != tt.want {
				t.Errorf("%s version = %q, want %q", tt.bin, b.Version, tt.want)
			}
			if len(h.Versions(tt.engine)) == 0 {
				t.Errorf("no %s versions offered for binary %s", tt.engine, b.Version)
			}
			if _, err := h.Resolve(tt.engine, ""); err != nil {
				t.Errorf("Resolve(%q, \"\"): %v", tt.engine, err)
			}
		})
	}
}
