package engine

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func confLines(s []Setting) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.ConfLine()
	}
	return out
}

func TestRedisSettings(t *testing.T) {
	tests := []struct {
		name    string
		config  NodeConfig
		want    []string // lines that must be present
		notWant []string // directives that must be absent
	}{
		{
			name:   "redis7 defaults",
			config: NodeConfig{Family: "redis7", NodeType: "cache.t3.micro", EngineVersion: "7.0.15"},
			want: []string{
				"maxmemory 402653184", "maxmemory-policy volatile-lru", "busy-reply-threshold 5000",
				"cluster-enabled no", "timeout 0", "tcp-keepalive 300", "maxclients 65000",
				`notify-keyspace-events ""`,
				"client-output-buffer-limit normal 0 0 0",
				"client-output-buffer-limit pubsub 33554432 8388608 60",
				"client-output-buffer-limit slave 53687091 53687091 60",
			},
			notWant: []string{"reserved-memory-percent", "reserved-memory", "close-on-replica-write", "lua-time-limit", "rename-command"},
		},
		{
			name: "group values",
			config: NodeConfig{Family: "redis7", NodeType: "cache.m5.large", EngineVersion: "7.0.15", Values: map[string]string{
				"maxmemory-policy": "allkeys-lru", "reserved-memory-percent": "50", "notify-keyspace-events": "KEA",
				"rename-commands": "FLUSHALL myflushall KEYS mykeys", "client-output-buffer-limit-normal-hard-limit": "1000",
				"maxmemory": "1", // node-type specific: ignored
			}},
			want: []string{
				"maxmemory 3427271373", "maxmemory-policy allkeys-lru", "notify-keyspace-events KEA",
				"rename-command FLUSHALL myflushall", "rename-command KEYS mykeys",
				"client-output-buffer-limit normal 1000 0 0",
			},
		},
		{
			name: "reserved-memory when the percent is 0",
			config: NodeConfig{Family: "redis7", NodeType: "cache.t3.micro", Values: map[string]string{
				"reserved-memory-percent": "0", "reserved-memory": "36870912",
			}},
			want: []string{"maxmemory 500000000"},
		},
		{
			name:   "maxclients capped",
			config: NodeConfig{Family: "redis7", NodeType: "cache.t3.micro", MaxConnections: 10000},
			want:   []string{"maxclients 10000"},
		},
		{
			name:    "valkey8 on an 8.0 binary leaves 8.1 parameters out",
			config:  NodeConfig{Family: "valkey8", NodeType: "cache.r7g.large", EngineVersion: "8.0.1"},
			want:    []string{"maxmemory 10527885772", "extended-redis-compatibility yes", "repl-backlog-size 10485760"},
			notWant: []string{"commandlog-request-larger-than", "lazyfree-lazy-eviction", "search-default-timeout-ms"},
		},
		{
			name:   "valkey8 on an 8.1 binary",
			config: NodeConfig{Family: "valkey8", NodeType: "cache.r7g.large", EngineVersion: "8.1.1"},
			want:   []string{"commandlog-request-larger-than 1048576"},
		},
		{
			name:    "redis2.8 without reserved-memory-percent",
			config:  NodeConfig{Family: "redis2.8", NodeType: "cache.m1.small"},
			want:    []string{"maxmemory 943718400", "min-replicas-to-write 0", "client-output-buffer-limit slave 94371840 94371840 60"},
			notWant: []string{"list-max-ziplist-entries"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := RedisSettings(tt.config)
			if err != nil {
				t.Fatalf("RedisSettings: %v", err)
			}
			lines := confLines(s)
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("missing line %q in\n%s", w, strings.Join(lines, "\n"))
				}
			}
			for _, d := range tt.notWant {
				for _, l := range lines {
					if strings.HasPrefix(l, d+" ") {
						t.Errorf("unexpected line %q", l)
					}
				}
			}
			seen := map[string]bool{}
			for _, x := range s {
				if x.Directive == "rename-command" || x.Directive == dirOutputBuffer {
					continue
				}
				if seen[x.Directive] {
					t.Errorf("directive %s set twice", x.Directive)
				}
				seen[x.Directive] = true
			}
		})
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name   string
		config NodeConfig
		redis  bool
	}{
		{"unknown family", NodeConfig{Family: "redis9", NodeType: "cache.t3.micro"}, true},
		{"memcached family for redis", NodeConfig{Family: "memcached1.6", NodeType: "cache.t3.micro"}, true},
		{"unknown node type", NodeConfig{Family: "redis7", NodeType: "cache.t9.huge"}, true},
		{"unknown parameter", NodeConfig{Family: "redis7", NodeType: "cache.t3.micro", Values: map[string]string{"no-such": "1"}}, true},
		{"invalid value", NodeConfig{Family: "redis7", NodeType: "cache.t3.micro", Values: map[string]string{"timeout": "5"}}, true},
		{"redis family for memcached", NodeConfig{Family: "redis7", NodeType: "cache.t3.micro"}, false},
		{"no memcached on r6gd", NodeConfig{Family: "memcached1.6", NodeType: "cache.r6gd.xlarge"}, false},
		{"overhead eats the memory", NodeConfig{Family: "memcached1.6", NodeType: "cache.t3.micro", Values: map[string]string{"memcached_connections_overhead": "512"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.redis {
				_, err = RedisSettings(tt.config)
			} else {
				_, err = MemcachedArgs(tt.config)
			}
			if err == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestMemcachedArgs(t *testing.T) {
	tests := []struct {
		name   string
		config NodeConfig
		want   []string
	}{
		{
			name:   "defaults on cache.m5.large",
			config: NodeConfig{Family: "memcached1.6", NodeType: "cache.m5.large", EngineVersion: "1.6.18"},
			want: []string{"-m", "6437", "-t", "2", "-b", "1024", "-B", "auto", "-n", "48", "-f", "1.25", "-I", "1048576",
				"-c", "65000", "-R", "20", "-o",
				"no_modern,hash_algorithm=jenkins,hashpower=16,idle_timeout=0,no_lru_crawler,no_lru_maintainer,no_maxconns_fast," +
					"slab_automove=0,slab_chunk_max=524288,no_slab_reassign,watcher_logbuf_size=256"},
		},
		{
			name: "group values and a connection cap",
			config: NodeConfig{Family: "memcached1.6", NodeType: "cache.t3.micro", EngineVersion: "1.6.18", MaxConnections: 1024, Values: map[string]string{
				"cas_disabled": "1", "no_modern": "0", "lru_crawler": "1", "watch": "0", "memcached_connections_overhead": "12",
				"chunk_size_growth_factor": "1.5", "disable_flush_all": "1",
			}},
			want: []string{"-m", "500", "-t", "2", "-b", "1024", "-B", "auto", "-C", "-n", "48", "-f", "1.5", "-F", "-I", "1048576",
				"-c", "1024", "-R", "20", "-W", "-o",
				"hash_algorithm=jenkins,hashpower=16,idle_timeout=0,lru_crawler,no_lru_maintainer,no_maxconns_fast," +
					"slab_automove=0,slab_chunk_max=524288,no_slab_reassign,watcher_logbuf_size=256"},
		},
		{
			name:   "memcached1.4 on an old binary keeps modern",
			config: NodeConfig{Family: "memcached1.4", NodeType: "cache.m5.large", EngineVersion: "1.4.34"},
			want: []string{"-m", "6437", "-t", "2", "-b", "1024", "-B", "auto", "-n", "48", "-f", "1.25", "-I", "1048576",
				"-c", "65000", "-R", "20", "-o",
				"modern,hash_algorithm=jenkins,hashpower=16,idle_timeout=0,no_lru_crawler,no_lru_maintainer,no_maxconns_fast," +
					"slab_automove=0,slab_chunk_max=524288,no_slab_reassign,watcher_logbuf_size=256"},
		},
		{
			name:   "a binary that parses worker_logbuf_size on its own gets it",
			config: NodeConfig{Family: "memcached1.6", NodeType: "cache.m5.large", EngineVersion: "1.6.38", Values: map[string]string{"worker_logbuf_size": "128"}},
			want: []string{"-m", "6437", "-t", "2", "-b", "1024", "-B", "auto", "-n", "48", "-f", "1.25", "-I", "1048576",
				"-c", "65000", "-R", "20", "-o",
				"no_modern,hash_algorithm=jenkins,hashpower=16,idle_timeout=0,no_lru_crawler,no_lru_maintainer,no_maxconns_fast," +
					"slab_automove=0,slab_chunk_max=524288,no_slab_reassign,watcher_logbuf_size=256,worker_logbuf_size=128"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MemcachedArgs(tt.config)
			if err != nil {
				t.Fatalf("MemcachedArgs: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("MemcachedArgs =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestConfLine(t *testing.T) {
	tests := []struct {
		s    Setting
		want string
	}{
		{Setting{"maxmemory", []string{"100"}}, "maxmemory 100"},
		{Setting{"notify-keyspace-events", []string{""}}, `notify-keyspace-events ""`},
		{Setting{"x", []string{`a "b"`}}, `x "a \"b\""`},
		{Setting{"client-output-buffer-limit", []string{"normal", "0", "0", "0"}}, "client-output-buffer-limit normal 0 0 0"},
	}
	for _, tt := range tests {
		if got := tt.s.ConfLine(); got != tt.want {
			t.Errorf("ConfLine() = %q, want %q", got, tt.want)
		}
	}
}

// startAndStop runs cmd until ready reports the engine is up, calls whileUp,
// then stops it. It fails the test if the engine exits or does not become
// ready.
func startAndStop(t *testing.T, cmd *exec.Cmd, ready func(line string) bool, whileUp func()) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var log []string
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before it was ready:\n%s", cmd.Path, strings.Join(log, "\n"))
			}
			log = append(log, l)
			if ready(l) {
				whileUp()
				return
			}
		case <-timeout:
			t.Fatalf("%s not ready after 15s:\n%s", cmd.Path, strings.Join(log, "\n"))
		}
	}
}

// TestRedisSettingsStartRealEngines checks that the installed engines accept
// every generated setting.
func TestRedisSettingsStartRealEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engine processes")
	}
	host := DefaultHost()
	for _, tt := range []struct {
		name, engine, family string
		values               map[string]string
	}{
		{"redis7 defaults", EngineRedis, "redis7", nil},
		{"redis7 custom", EngineRedis, "redis7", map[string]string{"rename-commands": "FLUSHALL myflushall",
			"notify-keyspace-events": "KEA", "maxmemory-policy": "allkeys-lfu"}},
		{"valkey8 defaults", EngineValkey, "valkey8", nil},
		{"valkey8 custom", EngineValkey, "valkey8", map[string]string{"extended-redis-compatibility": "no",
			"acl-pubsub-default": "resetchannels"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin, ok := host.Binary(tt.engine)
			if !ok {
				t.Skipf("no %s binary", tt.engine)
			}
			if Family(tt.engine, bin.Version) != tt.family {
				t.Skipf("%s %s is not a %s engine", bin.Path, bin.Version, tt.family)
			}
			s, err := RedisSettings(NodeConfig{Family: tt.family, NodeType: "cache.t3.micro", EngineVersion: bin.Version,
				Values: tt.values, MaxConnections: 1000})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			conf := append([]string{"port 0", "unixsocket " + filepath.Join(dir, "node.sock"), "daemonize no",
				`logfile ""`, `save ""`, "dir " + dir}, confLines(s)...)
			path := filepath.Join(dir, "node.conf")
			if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			startAndStop(t, exec.Command(bin.Path, path), func(l string) bool {
				return strings.Contains(strings.ToLower(l), "ready to accept connections")
			}, func() {
				// The engine reports the reserved-memory-adjusted maxmemory, as
				// INFO does on ElastiCache (402653184 on cache.t3.micro).
				if got := configGet(t, filepath.Join(dir, "node.sock"), "maxmemory"); got != "402653184" {
					t.Errorf("CONFIG GET maxmemory = %q, want 402653184", got)
				}
			})
		})
	}
}

// TestMemcachedArgsStartRealEngine checks that the installed memcached
// accepts the generated arguments.
func TestMemcachedArgsStartRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engine processes")
	}
	bin, ok := DefaultHost().Binary(EngineMemcached)
	if !ok {
		t.Skip("no memcached binary")
	}
	for _, tt := range []struct {
		name   string
		values map[string]string
	}{
		{"defaults", nil},
		{"modern", map[string]string{"no_modern": "0", "lru_crawler": "1", "lru_maintainer": "1", "slab_reassign": "1",
			"slab_automove": "1", "hash_algorithm": "murmur3", "cas_disabled": "1", "watch": "0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args, err := MemcachedArgs(NodeConfig{Family: Family(EngineMemcached, bin.Version), NodeType: "cache.t3.micro",
				EngineVersion: bin.Version, Values: tt.values, MaxConnections: 1000})
			if err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(t.TempDir(), "mc.sock")
			args = append(args, "-s", sock)
			if os.Geteuid() == 0 {
				args = append(args, "-u", "root")
			}
			// memcached logs nothing once it listens, so its socket is polled.
			cmd := exec.Command(bin.Path, args...)
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Kill()
				<-done
			}()
			deadline := time.Now().Add(15 * time.Second)
			for {
				if _, err := os.Stat(sock); err == nil {
					return
				}
				select {
				case err := <-done:
					done <- err
					t.Fatalf("memcached %q exited: %v", args, err)
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("memcached %q did not listen within 15s", args)
				}
			}
		})
	}
}

// configGet asks a Valkey or Redis OSS engine listening on a Unix socket for
// one configuration value.
func configGet(t *testing.T, sock, name string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", sock, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(name), name)
	r := bufio.NewReader(c)
	// Reply: *2, $len, name, $len, value.
	var lines []string
	for range 5 {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("CONFIG GET %s: %v (read %q)", name, err, lines)
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
	}
	return lines[4]
}
