package engine

import (
	"slices"
	"strings"
	"testing"
)

func TestCatalogsConsistent(t *testing.T) {
	for _, fam := range Families() {
		t.Run(fam, func(t *testing.T) {
			ps, ok := Parameters(fam)
			if !ok || len(ps) == 0 {
				t.Fatalf("Parameters(%q) = %d params, %v", fam, len(ps), ok)
			}
			f, _ := LookupFamily(fam)
			seen := map[string]bool{}
			for i, p := range ps {
				if seen[p.ParameterName] {
					t.Errorf("duplicate parameter %s", p.ParameterName)
				}
				seen[p.ParameterName] = true
				if i > 0 && ps[i-1].ParameterName > p.ParameterName {
					t.Errorf("parameters not sorted: %s before %s", ps[i-1].ParameterName, p.ParameterName)
				}
				if err := CheckParameterValue(p, p.ParameterValue); err != nil {
					t.Errorf("default of %s fails its own validation: %v", p.ParameterName, err)
				}
				if p.Source != SourceSystem {
					t.Errorf("%s: Source = %q", p.ParameterName, p.Source)
				}
				if p.Description == "" {
					t.Errorf("%s: no description", p.ParameterName)
				}
				if p.ChangeType != ChangeImmediate && p.ChangeType != ChangeRequiresReboot {
					t.Errorf("%s: ChangeType = %q", p.ParameterName, p.ChangeType)
				}
				if !slices.Contains([]string{TypeString, TypeInteger, TypeBoolean, TypeFloat}, p.DataType) {
					t.Errorf("%s: DataType = %q", p.ParameterName, p.DataType)
				}
				if p.MinimumEngineVersion == "" || CompareVersions(p.MinimumEngineVersion, f.BaseVersion) < 0 {
					t.Errorf("%s: MinimumEngineVersion %q below family base %s", p.ParameterName, p.MinimumEngineVersion, f.BaseVersion)
				}
				if got, ok := LookupParameter(fam, p.ParameterName); !ok || got != p {
					t.Errorf("LookupParameter(%q, %q) = %+v, %v", fam, p.ParameterName, got, ok)
				}
			}
			for _, ntp := range NodeTypeSpecificParameters(fam) {
				if seen[ntp.ParameterName] {
					t.Errorf("%s is both a parameter and node-type specific", ntp.ParameterName)
				}
				if len(ntp.Values) == 0 {
					t.Errorf("%s has no node type values", ntp.ParameterName)
				}
				for i, v := range ntp.Values {
					if _, ok := NodeType(v.CacheNodeType); !ok {
						t.Errorf("%s: unknown node type %s", ntp.ParameterName, v.CacheNodeType)
					}
					if i > 0 && ntp.Values[i-1].CacheNodeType >= v.CacheNodeType {
						t.Errorf("%s: values not sorted at %s", ntp.ParameterName, v.CacheNodeType)
					}
				}
			}
		})
	}
	if _, ok := Parameters("redis9"); ok {
		t.Error("Parameters(redis9) should not exist")
	}
	if NodeTypeSpecificParameters("redis9") != nil {
		t.Error("NodeTypeSpecificParameters(redis9) should be nil")
	}
}

func TestParametersCopy(t *testing.T) {
	ps, _ := Parameters("redis7")
	ps[0].ParameterValue = "changed"
	again, _ := Parameters("redis7")
	if again[0].ParameterValue == "changed" {
		t.Error("Parameters returns the catalog itself, want a copy")
	}
}

var redisRequired = []string{
	"maxmemory-policy", "reserved-memory-percent", "reserved-memory", "cluster-enabled", "timeout",
	"tcp-keepalive", "databases", "maxclients", "appendonly", "appendfsync", "activedefrag",
	"notify-keyspace-events", "slowlog-log-slower-than", "slowlog-max-len",
	"hash-max-listpack-entries", "hash-max-listpack-value", "list-max-listpack-size",
	"set-max-intset-entries", "zset-max-listpack-entries", "zset-max-listpack-value",
	"maxmemory-samples", "lua-time-limit", "client-output-buffer-limit-normal-hard-limit",
	"client-output-buffer-limit-pubsub-soft-limit", "client-output-buffer-limit-replica-soft-seconds",
	"repl-backlog-size", "min-replicas-to-write", "min-replicas-max-lag", "close-on-replica-write",
	"rename-commands", "acl-pubsub-default", "latency-tracking",
}

var memcachedRequired = []string{
	"max_item_size", "chunk_size", "chunk_size_growth_factor", "cas_disabled",
	"max_simultaneous_connections", "binding_protocol", "backlog_queue_limit",
	"memcached_connections_overhead", "config_max", "config_size_max", "no_modern",
	"slab_chunk_max", "lru_crawler", "hash_algorithm", "idle_timeout",
}

func TestCatalogContents(t *testing.T) {
	tests := []struct {
		family  string
		present []string
		absent  []string
	}{
		{"redis7", append(slices.Clone(redisRequired), "lazyfree-lazy-eviction"),
			[]string{"hash-max-ziplist-entries", "list-max-ziplist-size", "lua-replicate-commands", "min-slaves-to-write", "repl-timeout"}},
		{"valkey7", append(slices.Clone(redisRequired), "lazyfree-lazy-eviction"), []string{"extended-redis-compatibility"}},
		{"valkey8", append(slices.Clone(redisRequired), "extended-redis-compatibility", "commandlog-request-larger-than", "search-default-timeout-ms"),
			[]string{"lazyfree-lazy-eviction", "replica-lazy-flush", "cluster-databases"}},
		{"valkey9", append(slices.Clone(redisRequired), "cluster-databases"), nil},
		{"redis6.x", []string{"acl-pubsub-default", "hash-max-ziplist-entries", "list-max-ziplist-size", "lazyfree-lazy-user-del"},
			[]string{"lua-replicate-commands", "hash-max-listpack-entries"}},
		{"redis5.0", []string{"lua-replicate-commands", "rename-commands", "replica-lazy-flush", "stream-node-max-bytes"},
			[]string{"slave-lazy-flush", "repl-timeout", "acl-pubsub-default"}},
		{"redis4.0", []string{"slave-lazy-flush", "lfu-log-factor", "min-slaves-to-write", "repl-timeout"}, []string{"stream-node-max-bytes"}},
		{"redis3.2", []string{"cluster-enabled", "reserved-memory-percent"}, []string{"list-max-ziplist-entries", "activedefrag"}},
		{"redis2.8", []string{"close-on-slave-write", "list-max-ziplist-entries", "repl-timeout"}, []string{"cluster-enabled", "reserved-memory-percent"}},
		{"redis2.6", []string{"maxmemory-policy", "reserved-memory"}, []string{"notify-keyspace-events"}},
		{"memcached1.6", memcachedRequired, []string{"modern", "expirezero_does_not_evict"}},
		{"memcached1.5", memcachedRequired, []string{"modern"}},
		{"memcached1.4", []string{"modern", "expirezero_does_not_evict", "max_item_size", "watch"}, []string{"no_modern"}},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			for _, n := range tt.present {
				if _, ok := LookupParameter(tt.family, n); !ok {
					t.Errorf("%s missing from %s", n, tt.family)
				}
			}
			for _, n := range tt.absent {
				if _, ok := LookupParameter(tt.family, n); ok {
					t.Errorf("%s should not be in %s", n, tt.family)
				}
			}
		})
	}
}

func TestParameterDefaults(t *testing.T) {
	tests := []struct {
		family, name, value, allowed string
		modifiable                   bool
		minVersion, change           string
	}{
		{"redis7", "maxmemory-policy", "volatile-lru", policies40, true, "7.0.0", ChangeImmediate},
		{"redis7", "reserved-memory-percent", "25", "0-100", true, "7.0.0", ChangeImmediate},
		{"redis7", "cluster-enabled", "no", "yes,no", false, "7.0.0", ChangeRequiresReboot},
		{"redis7", "maxclients", "65000", "1-65000", false, "7.0.0", ChangeRequiresReboot},
		{"redis7", "timeout", "0", "0,20-", true, "7.0.0", ChangeImmediate},
		{"redis7", "tcp-keepalive", "300", "0-", true, "7.0.0", ChangeImmediate},
		{"redis7", "activerehashing", "yes", "yes,no", false, "7.0.0", ChangeRequiresReboot},
		{"redis7", "acl-pubsub-default", "allchannels", "resetchannels,allchannels", true, "7.0.0", ChangeImmediate},
		{"redis6.x", "acl-pubsub-default", "allchannels", "resetchannels,allchannels", true, "6.2.0", ChangeImmediate},
		{"redis5.0", "rename-commands", "", renamableCommands, true, "5.0.3", ChangeImmediate},
		{"redis5.0", "active-defrag-cycle-min", "5", "1-75", true, "5.0.0", ChangeImmediate},
		{"redis4.0", "active-defrag-cycle-min", "25", "1-75", true, "4.0.10", ChangeImmediate},
		{"redis2.8", "tcp-keepalive", "0", "0-", true, "2.8.6", ChangeImmediate},
		{"redis2.8", "close-on-slave-write", "yes", "yes,no", true, "2.8.23", ChangeImmediate},
		{"redis2.8", "appendonly", "no", "yes,no", true, "2.8.6", ChangeImmediate},
		{"redis3.2", "appendonly", "no", "yes,no", false, "3.2.4", ChangeImmediate},
		{"valkey7", "lazyfree-lazy-eviction", "no", "yes,no", true, "7.2.0", ChangeImmediate},
		{"valkey8", "repl-backlog-size", "10485760", "16384-", true, "8.0.0", ChangeImmediate},
		{"valkey8", "maxmemory-samples", "3", "1-64", true, "8.0.0", ChangeImmediate},
		{"valkey8", "commandlog-large-reply-max-len", "128", "0-1024", true, "8.1.0", ChangeImmediate},
		{"valkey8", "search-enable-partial-results", "yes", "yes,no", true, "8.2.0", ChangeImmediate},
		{"valkey9", "commandlog-large-reply-max-len", "128", "0-1024", true, "9.0.0", ChangeImmediate},
		{"valkey9", "cluster-databases", "1", "1-10000", false, "9.0.0", ChangeRequiresReboot},
		{"memcached1.6", "max_item_size", "1048576", "1024-1073741824", true, "1.6.6", ChangeRequiresReboot},
		{"memcached1.6", "chunk_size_growth_factor", "1.25", "1.01-", true, "1.6.6", ChangeRequiresReboot},
		{"memcached1.6", "cas_disabled", "0", "0,1", true, "1.6.6", ChangeRequiresReboot},
		{"memcached1.6", "config_max", "16", "0-", false, "1.6.6", ChangeRequiresReboot},
		{"memcached1.6", "memcached_connections_overhead", "100", "0-", true, "1.6.6", ChangeRequiresReboot},
		{"memcached1.6", "watch", "1", "0,1", true, "1.6.6", ChangeImmediate},
		{"memcached1.4", "config_size_max", "65536", "0-", false, "1.4.14", ChangeRequiresReboot},
		{"memcached1.4", "backlog_queue_limit", "1024", "1-10000", false, "1.4.5", ChangeRequiresReboot},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+tt.name, func(t *testing.T) {
			p, ok := LookupParameter(tt.family, tt.name)
			if !ok {
				t.Fatalf("LookupParameter(%q, %q) not found", tt.family, tt.name)
			}
			if p.ParameterValue != tt.value || p.AllowedValues != tt.allowed || p.IsModifiable != tt.modifiable ||
				p.MinimumEngineVersion != tt.minVersion || p.ChangeType != tt.change {
				t.Errorf("got value=%q allowed=%q modifiable=%v min=%q change=%q, want %q %q %v %q %q",
					p.ParameterValue, p.AllowedValues, p.IsModifiable, p.MinimumEngineVersion, p.ChangeType,
					tt.value, tt.allowed, tt.modifiable, tt.minVersion, tt.change)
			}
		})
	}
}

func TestEngineDirectives(t *testing.T) {
	tests := []struct{ family, name, want string }{
		{"redis7", "maxmemory-policy", "maxmemory-policy"},
		{"redis7", "lua-time-limit", "busy-reply-threshold"},
		{"redis6.x", "lua-time-limit", "lua-time-limit"},
		{"redis7", "reserved-memory-percent", ""},
		{"redis7", "close-on-replica-write", ""},
		{"redis7", "cluster-preferred-endpoint-type", ""},
		{"redis7", "client-output-buffer-limit-normal-hard-limit", "client-output-buffer-limit"},
		{"redis2.8", "min-slaves-to-write", "min-replicas-to-write"},
		{"memcached1.6", "max_simultaneous_connections", "-c"},
		{"memcached1.6", "hashpower_init", "-o hashpower"},
		{"memcached1.6", "config_max", ""},
		{"memcached1.6", "inline_ascii_resp", ""},
		{"memcached1.5", "inline_ascii_resp", "-o inline_ascii_response"},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+tt.name, func(t *testing.T) {
			p, _ := LookupParameter(tt.family, tt.name)
			if p.EngineDirective != tt.want {
				t.Errorf("EngineDirective = %q, want %q", p.EngineDirective, tt.want)
			}
		})
	}
}

func TestParametersForGroup(t *testing.T) {
	tests := []struct {
		family  string
		cluster bool
		want    string // cluster-enabled; "" = group does not exist
	}{
		{"redis7", false, "no"},
		{"redis7", true, "yes"},
		{"valkey8", true, "yes"},
		{"redis3.2", true, "yes"},
		{"redis2.8", true, ""},
		{"memcached1.6", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			ps, ok := ParametersForGroup(tt.family, tt.cluster)
			if tt.want == "" {
				if ok {
					t.Fatalf("ParametersForGroup(%q, %v) exists, want none", tt.family, tt.cluster)
				}
				return
			}
			i := slices.IndexFunc(ps, func(p Param) bool { return p.ParameterName == "cluster-enabled" })
			if !ok || i < 0 || ps[i].ParameterValue != tt.want {
				t.Fatalf("ParametersForGroup(%q, %v): cluster-enabled missing or not %q", tt.family, tt.cluster, tt.want)
			}
		})
	}
	if p, _ := LookupParameter("redis7", "cluster-enabled"); p.ParameterValue != "no" {
		t.Errorf("catalog changed by ParametersForGroup: cluster-enabled = %q", p.ParameterValue)
	}
}

func TestNodeTypeSpecificParameters(t *testing.T) {
	tests := []struct{ family, name, nodeType, want string }{
		{"redis7", "maxmemory", "cache.t3.micro", "536870912"},
		{"redis7", "maxmemory", "cache.m5.large", "6854542746"},
		{"redis7", "maxmemory", "cache.r7g.large", "14037181030"},
		{"redis2.8", "maxmemory", "cache.m1.small", "943718400"},
		{"redis7", "client-output-buffer-limit-replica-hard-limit", "cache.t3.micro", "53687091"},
		{"redis2.8", "client-output-buffer-limit-slave-soft-limit", "cache.t2.medium", "346134937"},
		{"redis2.8", "client-output-buffer-limit-slave-hard-limit", "cache.m3.medium", "309329920"},
		{"redis2.8", "client-output-buffer-limit-slave-hard-limit", "cache.m4.10xlarge", "16604761424"},
		{"redis2.8", "client-output-buffer-limit-slave-hard-limit", "cache.r3.large", "1468006400"},
		{"valkey8", "maxmemory", "cache.r8g.large", "15222495510"},
		{"valkey8", "maxmemory", "cache.m3.large", ""},
		{"memcached1.6", "max_cache_memory", "cache.m5.large", "6537"},
		{"memcached1.6", "num_threads", "cache.m5.large", "2"},
		{"memcached1.6", "num_threads", "cache.m5.24xlarge", "96"},
		{"memcached1.6", "max_cache_memory", "cache.r6gd.xlarge", ""},
		{"memcached1.4", "max_cache_memory", "cache.t2.micro", "555"},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+tt.name+"/"+tt.nodeType, func(t *testing.T) {
			i := slices.IndexFunc(NodeTypeSpecificParameters(tt.family), func(p NodeTypeParam) bool { return p.ParameterName == tt.name })
			if i < 0 {
				t.Fatalf("%s has no node-type-specific %s", tt.family, tt.name)
			}
			got, _ := NodeTypeSpecificParameters(tt.family)[i].Value(tt.nodeType)
			if got != tt.want {
				t.Errorf("value for %s = %q, want %q", tt.nodeType, got, tt.want)
			}
		})
	}
	for _, fam := range []string{"redis5.0", "redis6.x", "redis7", "valkey7", "valkey8", "valkey9"} {
		for _, p := range NodeTypeSpecificParameters(fam) {
			if strings.Contains(p.ParameterName, "slave") {
				t.Errorf("%s uses the old name %s", fam, p.ParameterName)
			}
		}
	}
}
