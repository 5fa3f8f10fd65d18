package engine

import (
	"slices"
	"testing"
)

func TestFamily(t *testing.T) {
	tests := []struct{ engine, version, want string }{
		{EngineRedis, "7.1", "redis7"},
		{EngineRedis, "7.0.15", "redis7"},
		{EngineRedis, "7", "redis7"},
		{EngineRedis, "6.x", "redis6.x"},
		{EngineRedis, "6.2", "redis6.x"},
		{EngineRedis, "5.0.6", "redis5.0"},
		{EngineRedis, "4.0.10", "redis4.0"},
		{EngineRedis, "3.2.10", "redis3.2"},
		{EngineRedis, "2.8.24", "redis2.8"},
		{EngineRedis, "2.6.13", "redis2.6"},
		{EngineRedis, "8.0", ""},
		{EngineRedis, "", ""},
		{EngineValkey, "7.2", "valkey7"},
		{EngineValkey, "8.0.1", "valkey8"},
		{EngineValkey, "9.1", "valkey9"},
		{EngineValkey, "6.2", ""},
		{EngineMemcached, "1.6.22", "memcached1.6"},
		{EngineMemcached, "1.5.16", "memcached1.5"},
		{EngineMemcached, "1.4.5", "memcached1.4"},
		{EngineMemcached, "1", ""},
		{"mysql", "8.0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.engine+"/"+tt.version, func(t *testing.T) {
			if got := Family(tt.engine, tt.version); got != tt.want {
				t.Errorf("Family(%q, %q) = %q, want %q", tt.engine, tt.version, got, tt.want)
			}
		})
	}
}

func TestDefaultParameterGroup(t *testing.T) {
	tests := []struct {
		engine, version string
		cluster         bool
		want            string
	}{
		{EngineRedis, "7.1", false, "default.redis7"},
		{EngineRedis, "7.0", true, "default.redis7.cluster.on"},
		{EngineRedis, "6.2", false, "default.redis6.x"},
		{EngineRedis, "6.x", true, "default.redis6.x.cluster.on"},
		{EngineRedis, "5.0.6", true, "default.redis5.0.cluster.on"},
		{EngineRedis, "4.0.10", false, "default.redis4.0"},
		{EngineRedis, "3.2.4", true, "default.redis3.2.cluster.on"},
		{EngineRedis, "2.8.24", false, "default.redis2.8"},
		{EngineRedis, "2.8.24", true, ""},
		{EngineRedis, "2.6.13", false, "default.redis2.6"},
		{EngineValkey, "7.2", false, "default.valkey7"},
		{EngineValkey, "8.0", false, "default.valkey8"},
		{EngineValkey, "8.2", true, "default.valkey8.cluster.on"},
		{EngineValkey, "9.0", true, "default.valkey9.cluster.on"},
		{EngineMemcached, "1.6.22", false, "default.memcached1.6"},
		{EngineMemcached, "1.6.22", true, ""},
		{EngineMemcached, "1.5.10", false, "default.memcached1.5"},
		{EngineMemcached, "1.4.34", false, "default.memcached1.4"},
		{EngineRedis, "9.9", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want+"/"+tt.engine+"/"+tt.version, func(t *testing.T) {
			if got := DefaultParameterGroup(tt.engine, tt.version, tt.cluster); got != tt.want {
				t.Errorf("DefaultParameterGroup(%q, %q, %v) = %q, want %q", tt.engine, tt.version, tt.cluster, got, tt.want)
			}
		})
	}
}

func TestDefaultParameterGroups(t *testing.T) {
	groups := DefaultParameterGroups()
	byName := map[string]DefaultGroup{}
	for _, g := range groups {
		if _, dup := byName[g.Name]; dup {
			t.Errorf("duplicate default group %s", g.Name)
		}
		byName[g.Name] = g
	}
	for _, name := range []string{
		"default.redis7", "default.redis7.cluster.on", "default.redis6.x.cluster.on", "default.redis2.6",
		"default.valkey7", "default.valkey8.cluster.on", "default.valkey9", "default.memcached1.6", "default.memcached1.4",
	} {
		if _, ok := byName[name]; !ok {
			t.Errorf("default group %s missing", name)
		}
	}
	if g := byName["default.valkey8"]; g.Description != "Default parameter group for valkey8" || g.ClusterMode {
		t.Errorf("default.valkey8 = %+v", g)
	}
	if g := byName["default.valkey8.cluster.on"]; g.Description != "Customized default parameter group for valkey8 with cluster mode on" || !g.ClusterMode {
		t.Errorf("default.valkey8.cluster.on = %+v", g)
	}
	if _, ok := byName["default.memcached1.6.cluster.on"]; ok {
		t.Error("memcached must not have a cluster-mode default group")
	}
}

func TestEngineVersionCatalog(t *testing.T) {
	tests := []struct {
		engine, version                              string
		family, engineDesc, versionDesc, patch, dflt string
		cluster                                      string
	}{
		{EngineRedis, "7.0", "redis7", "Redis", "redis version 7.0.7", "7.0.7", "default.redis7", "default.redis7.cluster.on"},
		{EngineRedis, "7.1", "redis7", "Redis", "redis version 7.1.0", "7.1.0", "default.redis7", "default.redis7.cluster.on"},
		{EngineRedis, "6.2", "redis6.x", "Redis", "redis version 6.2.6", "6.2.6", "default.redis6.x", "default.redis6.x.cluster.on"},
		{EngineRedis, "2.8.22", "redis2.8", "Redis", "redis version 2.8.22 R5", "2.8.22", "default.redis2.8", ""},
		{EngineRedis, "3.2.4", "redis3.2", "Redis", "redis version 3.2.4", "3.2.4", "default.redis3.2", "default.redis3.2.cluster.on"},
		{EngineValkey, "8.0", "valkey8", "Valkey", "valkey version 8.0.1", "8.0.1", "default.valkey8", "default.valkey8.cluster.on"},
		{EngineValkey, "7.2", "valkey7", "Valkey", "valkey version 7.2.6", "7.2.6", "default.valkey7", "default.valkey7.cluster.on"},
		{EngineMemcached, "1.6.22", "memcached1.6", "memcached", "memcached version 1.6.22", "1.6.22", "default.memcached1.6", ""},
		{EngineMemcached, "1.4.24", "memcached1.4", "memcached", "memcached version 1.4.24", "1.4.24", "default.memcached1.4", ""},
	}
	for _, tt := range tests {
		t.Run(tt.engine+"/"+tt.version, func(t *testing.T) {
			v, ok := LookupVersion(tt.engine, tt.version)
			if !ok {
				t.Fatalf("LookupVersion(%q, %q) not found", tt.engine, tt.version)
			}
			got := []string{v.Family, v.CacheEngineDescription, v.CacheEngineVersionDescription, v.PatchVersion, v.DefaultParameterGroup, v.ClusterModeParameterGroup}
			want := []string{tt.family, tt.engineDesc, tt.versionDesc, tt.patch, tt.dflt, tt.cluster}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			if byPatch, ok := LookupVersion(tt.engine, tt.patch); !ok || byPatch.EngineVersion != tt.version {
				t.Errorf("LookupVersion(%q, %q) = %q, %v, want %q", tt.engine, tt.patch, byPatch.EngineVersion, ok, tt.version)
			}
		})
	}
	for _, e := range Engines() {
		vs := EngineVersions(e)
		if len(vs) == 0 {
			t.Errorf("EngineVersions(%q) is empty", e)
		}
		for _, v := range vs {
			if v.Family == "" || v.DefaultParameterGroup == "" {
				t.Errorf("%s %s: family %q, default group %q", e, v.EngineVersion, v.Family, v.DefaultParameterGroup)
			}
		}
	}
	if EngineVersions("mysql") != nil {
		t.Error("EngineVersions(mysql) should be nil")
	}
	for _, f := range Families() {
		if _, ok := Parameters(f); !ok {
			t.Errorf("family %s has no parameter catalog", f)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"7.0", "7.1", -1},
		{"7.1", "7.0.7", 1},
		{"7.1", "7.1.0", 0},
		{"6.2.6", "6.2.6", 0},
		{"6.2", "6.10", -1},
		{"5.0.6", "4.0.10", 1},
		{"1.6.6", "1.6.22", -1},
		{"1.6.22", "1.5.16", 1},
		{"6.x", "6.2", 0},
		{"6.x", "7.0", -1},
		{"8.0.1", "7.2.6", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"_vs_"+tt.b, func(t *testing.T) {
			if got := CompareVersions(tt.a, tt.b); got != tt.want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
