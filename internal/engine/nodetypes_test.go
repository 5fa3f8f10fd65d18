package engine

import "testing"

func TestNodeTypeLookup(t *testing.T) {
	tests := []struct {
		name        string
		maxMemory   int64
		engineMax   int64 // with the default 25 % reserved
		memcachedMB int64
		vcpu        int
		gen         Generation
	}{
		{"cache.t3.micro", 536870912, 402653184, 512, 2, GenerationCurrent},
		{"cache.m5.large", 6854542746, 5140907059, 6537, 2, GenerationCurrent},
		{"cache.r7g.large", 14037181030, 10527885772, 13387, 2, GenerationCurrent},
		{"cache.m4.xlarge", 15328501760, 11496376320, 11496, 4, GenerationCurrent},
		{"cache.r6gd.xlarge", 28261849702, 21196387276, 0, 0, GenerationCurrent},
		{"cache.t1.micro", 142606336, 106954752, 0, 0, GenerationPrevious},
		{"cache.r3.8xlarge", 254384537600, 190788403200, 0, 0, GenerationPrevious},
		{"cache.c7gn.12xlarge", 84357985997, 63268489497, 325400, 48, GenerationCurrent},
		{"cache.r8g.16xlarge", 541725818880, 406294364160, 516630, 64, GenerationCurrent},
		{"cache.c8gn.large", 3330020474, 2497515355, 3176, 2, GenerationCurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := NodeType(tt.name)
			if !ok {
				t.Fatalf("NodeType(%q) not found", tt.name)
			}
			if n.MaxMemoryBytes != tt.maxMemory {
				t.Errorf("MaxMemoryBytes = %d, want %d", n.MaxMemoryBytes, tt.maxMemory)
			}
			if got := n.EngineMaxMemory(25); got != tt.engineMax {
				t.Errorf("EngineMaxMemory(25) = %d, want %d", got, tt.engineMax)
			}
			if n.MemcachedMB != tt.memcachedMB {
				t.Errorf("MemcachedMB = %d, want %d", n.MemcachedMB, tt.memcachedMB)
			}
			if n.VCPU != tt.vcpu {
				t.Errorf("VCPU = %d, want %d", n.VCPU, tt.vcpu)
			}
			if n.Generation != tt.gen {
				t.Errorf("Generation = %q, want %q", n.Generation, tt.gen)
			}
		})
	}
}

func TestNodeTypeUnknown(t *testing.T) {
	for _, name := range []string{"", "cache.t3.nano", "t3.micro", "cache.m5.8xlarge", "CACHE.T3.MICRO"} {
		t.Run(name, func(t *testing.T) {
			if n, ok := NodeType(name); ok {
				t.Errorf("NodeType(%q) = %+v, want not found", name, n)
			}
			if got := MemoryLimit(name, EngineRedis, 25); got != 0 {
				t.Errorf("MemoryLimit(%q) = %d, want 0", name, got)
			}
		})
	}
}

func TestNodeTypesCatalog(t *testing.T) {
	all := NodeTypes()
	if len(all) < 100 {
		t.Fatalf("NodeTypes() has %d types, want at least 100", len(all))
	}
	seen := map[string]bool{}
	for _, n := range all {
		if seen[n.Name] {
			t.Errorf("duplicate node type %s", n.Name)
		}
		seen[n.Name] = true
		if n.MaxMemoryBytes <= 0 {
			t.Errorf("%s: MaxMemoryBytes = %d", n.Name, n.MaxMemoryBytes)
		}
	}
	all[0].Name = "changed"
	if NodeTypes()[0].Name == "changed" {
		t.Error("NodeTypes() returns the catalog itself, want a copy")
	}
}

func TestEngineMaxMemory(t *testing.T) {
	n, _ := NodeType("cache.t3.micro")
	for _, tt := range []struct {
		reserved int
		want     int64
	}{
		{0, 536870912}, {25, 402653184}, {50, 268435456}, {100, 0}, {-5, 536870912}, {150, 0},
	} {
		if got := n.EngineMaxMemory(tt.reserved); got != tt.want {
			t.Errorf("EngineMaxMemory(%d) = %d, want %d", tt.reserved, got, tt.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		nodeType, engine string
		reserved         int
		want             int64
	}{
		{"cache.t3.micro", EngineRedis, 25, 402653184},
		{"cache.t3.micro", EngineValkey, 25, 402653184},
		{"cache.t3.micro", EngineRedis, 0, 536870912},
		{"cache.m5.large", EngineMemcached, 25, 6437 << 20},
		{"cache.t3.micro", EngineMemcached, 0, 412 << 20},
		{"cache.r6gd.xlarge", EngineMemcached, 25, 0},
		{"cache.m1.small", EngineMemcached, 25, 0},
		{"cache.t3.micro", "mysql", 25, 0},
	}
	for _, tt := range tests {
		t.Run(tt.nodeType+"/"+tt.engine, func(t *testing.T) {
			if got := MemoryLimit(tt.nodeType, tt.engine, tt.reserved); got != tt.want {
				t.Errorf("MemoryLimit(%q, %q, %d) = %d, want %d", tt.nodeType, tt.engine, tt.reserved, got, tt.want)
			}
		})
	}
}

func TestNodeTypeMinimums(t *testing.T) {
	tests := []struct {
		nodeType, engine, version string
		want                      bool
	}{
		{"cache.m6g.large", EngineRedis, "5.0.6", true},
		{"cache.m6g.large", EngineRedis, "5.0.5", false},
		{"cache.r6g.large", EngineRedis, "4.0.10", false},
		{"cache.t4g.micro", EngineMemcached, "1.5.16", true},
		{"cache.t4g.micro", EngineMemcached, "1.5.10", false},
		{"cache.r6gd.xlarge", EngineRedis, "6.2", true},
		{"cache.r6gd.xlarge", EngineRedis, "6.0", false},
		{"cache.r6gd.xlarge", EngineMemcached, "1.6.22", false},
		{"cache.m5.large", EngineRedis, "3.2.4", true},
		{"cache.m5.large", EngineRedis, "2.8.24", false},
		{"cache.m5.large", EngineMemcached, "1.4.5", true},
		{"cache.r7g.large", EngineValkey, "8.0", true},
		{"cache.m3.large", EngineValkey, "7.2", false},
		{"cache.m3.large", EngineRedis, "", true},
		{"cache.t3.micro", "mysql", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.nodeType+"/"+tt.engine+"/"+tt.version, func(t *testing.T) {
			n, _ := NodeType(tt.nodeType)
			if got := n.SupportsEngine(tt.engine, tt.version); got != tt.want {
				t.Errorf("SupportsEngine(%q, %q) = %v, want %v", tt.engine, tt.version, got, tt.want)
			}
		})
	}
	r6gd, _ := NodeType("cache.r6gd.4xlarge")
	if !r6gd.DataTiering || !r6gd.NoMemcached || r6gd.MinRedisVersion != "6.2.0" {
		t.Errorf("cache.r6gd.4xlarge = %+v, want data tiering, no Memcached, Redis >= 6.2.0", r6gd)
	}
}

func TestEvictionPolicyAllowed(t *testing.T) {
	tests := []struct {
		nodeType, policy string
		want             bool
	}{
		{"cache.r6gd.xlarge", "allkeys-lru", true},
		{"cache.r6gd.xlarge", "volatile-lru", true},
		{"cache.r6gd.xlarge", "noeviction", true},
		{"cache.r6gd.xlarge", "allkeys-lfu", false},
		{"cache.r6g.xlarge", "allkeys-lfu", true},
	}
	for _, tt := range tests {
		t.Run(tt.nodeType+"/"+tt.policy, func(t *testing.T) {
			n, _ := NodeType(tt.nodeType)
			if got := n.EvictionPolicyAllowed(tt.policy); got != tt.want {
				t.Errorf("EvictionPolicyAllowed(%q) = %v, want %v", tt.policy, got, tt.want)
			}
		})
	}
}
