package engine

import (
	"slices"
	"strings"
)

// Generation tells whether AWS still lets new clusters use a node type.
type Generation string

// Node type generations.
const (
	GenerationCurrent  Generation = "current"
	GenerationPrevious Generation = "previous" // existing clusters run; new ones cannot be created
)

// NodeTypeInfo describes one cache node type.
type NodeTypeInfo struct {
	Name string // cache.m5.large
	// VCPU is the vCPU count (the Memcached num_threads default); 0 when unknown.
	VCPU int
	// MaxMemoryBytes is the node-type-specific `maxmemory` parameter default
	// for Valkey and Redis OSS, before reserved memory is taken off.
	MaxMemoryBytes int64
	// MemcachedMB is the Memcached `max_cache_memory` default in MiB; 0 when
	// unknown or when the type does not run Memcached.
	MemcachedMB int64
	Generation  Generation
	// MinRedisVersion and MinMemcachedVersion are the lowest engine versions
	// AWS allows on this type; empty when no minimum is documented.
	MinRedisVersion     string
	MinMemcachedVersion string
	// NoMemcached is set for types that cannot run Memcached at all (r6gd).
	NoMemcached bool
	// DataTiering is set for r6gd types: only noeviction, volatile-lru and
	// allkeys-lru eviction policies are allowed there.
	DataTiering bool
}

// EngineMaxMemory is the `maxmemory` the engine is started with once
// reserved-memory-percent is taken off: MaxMemoryBytes*(100-reserved)/100.
// With the default of 25, cache.t3.micro gives 402653184.
func (n NodeTypeInfo) EngineMaxMemory(reservedPercent int) int64 {
	reservedPercent = min(max(reservedPercent, 0), 100)
	return n.MaxMemoryBytes * int64(100-reservedPercent) / 100
}

// SupportsEngine reports whether AWS lets this node type run the engine at
// the given version ("" skips the version check). Valkey runs on current
// generation types only.
func (n NodeTypeInfo) SupportsEngine(engine, version string) bool {
	switch engine {
	case EngineValkey:
		return n.Generation == GenerationCurrent
	case EngineRedis:
		return version == "" || n.MinRedisVersion == "" || CompareVersions(version, n.MinRedisVersion) >= 0
	case EngineMemcached:
		if n.NoMemcached || n.MemcachedMB == 0 {
			return false
		}
		return version == "" || n.MinMemcachedVersion == "" || CompareVersions(version, n.MinMemcachedVersion) >= 0
	}
	return false
}

// EvictionPolicyAllowed reports whether a maxmemory-policy value may be used
// on this node type: data-tiering (r6gd) types allow only noeviction,
// volatile-lru and allkeys-lru.
func (n NodeTypeInfo) EvictionPolicyAllowed(policy string) bool {
	if !n.DataTiering {
		return true
	}
	return policy == "noeviction" || policy == "volatile-lru" || policy == "allkeys-lru"
}

// NodeType looks up a node type by name (for example "cache.t3.micro").
func NodeType(name string) (NodeTypeInfo, bool) {
	i, ok := nodeTypeIndex[name]
	if !ok {
		return NodeTypeInfo{}, false
	}
	return nodeTypes[i], true
}

// NodeTypes returns every known node type, in catalog order.
func NodeTypes() []NodeTypeInfo {
	return slices.Clone(nodeTypes)
}

var (
	nodeTypes     = buildNodeTypes()
	nodeTypeIndex = func() map[string]int {
		m := make(map[string]int, len(nodeTypes))
		for i, n := range nodeTypes {
			m[n.Name] = i
		}
		return m
	}()
)

// Engine minimums per node family (AWS API model and the 2023 supported-node
// table). The 2023 table lets cache.t4g.micro run Redis OSS from 3.2.4; the
// API model states 5.0.6 for the whole t4g family, which is what is used here.
var familyMinimums = map[string]struct{ redis, memcached string }{
	"m6g":  {"5.0.6", "1.5.16"},
	"r6g":  {"5.0.6", "1.5.16"},
	"t4g":  {"5.0.6", "1.5.16"},
	"r6gd": {"6.2.0", ""},
	"m5":   {"3.2.4", ""},
	"r5":   {"3.2.4", ""},
	"m4":   {"3.2.4", ""},
	"r4":   {"3.2.4", ""},
	"t3":   {"3.2.4", ""},
	"t2":   {"3.2.4", ""},
}

func buildNodeTypes() []NodeTypeInfo {
	out := make([]NodeTypeInfo, 0, len(nodeTypeRows))
	for _, r := range nodeTypeRows {
		n := NodeTypeInfo{
			Name:           r.name,
			VCPU:           r.vcpu,
			MaxMemoryBytes: r.maxMemory,
			MemcachedMB:    r.memcachedMB,
			Generation:     r.gen,
		}
		fam := nodeFamily(r.name)
		if m, ok := familyMinimums[fam]; ok {
			n.MinRedisVersion, n.MinMemcachedVersion = m.redis, m.memcached
		}
		if fam == "r6gd" {
			n.NoMemcached, n.DataTiering = true, true
		}
		out = append(out, n)
	}
	return out
}

// nodeFamily returns "m5" for "cache.m5.large".
func nodeFamily(name string) string {
	rest, ok := strings.CutPrefix(name, "cache.")
	if !ok {
		return ""
	}
	fam, _, _ := strings.Cut(rest, ".")
	return fam
}

const (
	genCurrent  = GenerationCurrent
	genPrevious = GenerationPrevious
)

type nodeTypeRow struct {
	name        string
	vcpu        int
	maxMemory   int64
	memcachedMB int64
	gen         Generation
}

// nodeTypeRows: name, vCPU (0 = unknown), maxmemory bytes, Memcached
// max_cache_memory MiB (0 = unknown), generation. Sources: AWS "Engine specific
// parameters" node-type tables (Valkey, Redis OSS and Memcached), as collected
// in the project's ElastiCache facts reference. The published
// cache.c7gn.12xlarge/16xlarge Memcached values look swapped; they are kept as
// published. cache.m4.xlarge maxmemory follows the current page (15328501760).
var nodeTypeRows = []nodeTypeRow{
	{"cache.t3.micro", 2, 536870912, 512, genCurrent},
	{"cache.t3.small", 2, 1471026299, 1402, genCurrent},
	{"cache.t3.medium", 2, 3317862236, 3364, genCurrent},
	{"cache.t4g.micro", 2, 536870912, 512, genCurrent},
	{"cache.t4g.small", 2, 1471026299, 1402, genCurrent},
	{"cache.t4g.medium", 2, 3317862236, 3164, genCurrent},
	{"cache.m5.large", 2, 6854542746, 6537, genCurrent},
	{"cache.m5.xlarge", 4, 13891921715, 13248, genCurrent},
	{"cache.m5.2xlarge", 8, 27966669210, 26671, genCurrent},
	{"cache.m5.4xlarge", 16, 56116178125, 53516, genCurrent},
	{"cache.m5.12xlarge", 48, 168715971994, 160900, genCurrent},
	{"cache.m5.24xlarge", 96, 337500562842, 321865, genCurrent},
	{"cache.m6g.large", 2, 6854542746, 6537, genCurrent},
	{"cache.m6g.xlarge", 4, 13891921715, 13248, genCurrent},
	{"cache.m6g.2xlarge", 8, 27966669210, 26671, genCurrent},
	{"cache.m6g.4xlarge", 16, 56116178125, 53516, genCurrent},
	{"cache.m6g.8xlarge", 32, 111325552312, 107000, genCurrent},
	{"cache.m6g.12xlarge", 48, 168715971994, 160900, genCurrent},
	{"cache.m6g.16xlarge", 64, 225000375228, 214577, genCurrent},
	{"cache.m7g.large", 2, 6854542746, 6537, genCurrent},
	{"cache.m7g.xlarge", 4, 13891921715, 13248, genCurrent},
	{"cache.m7g.2xlarge", 8, 27966669210, 26671, genCurrent},
	{"cache.m7g.4xlarge", 16, 56116178125, 53516, genCurrent},
	{"cache.m7g.8xlarge", 32, 111325552312, 107000, genCurrent},
	{"cache.m7g.12xlarge", 48, 168715971994, 160900, genCurrent},
	{"cache.m7g.16xlarge", 64, 225000375228, 214577, genCurrent},
	{"cache.r5.large", 2, 14037181030, 13387, genCurrent},
	{"cache.r5.xlarge", 4, 28261849702, 26953, genCurrent},
	{"cache.r5.2xlarge", 8, 56711183565, 54084, genCurrent},
	{"cache.r5.4xlarge", 16, 113609865216, 108347, genCurrent},
	{"cache.r5.12xlarge", 48, 341206346547, 325400, genCurrent},
	{"cache.r5.24xlarge", 96, 682485973811, 650869, genCurrent},
	{"cache.r6g.large", 2, 14037181030, 13387, genCurrent},
	{"cache.r6g.xlarge", 4, 28261849702, 26953, genCurrent},
	{"cache.r6g.2xlarge", 8, 56711183565, 54084, genCurrent},
	{"cache.r6g.4xlarge", 16, 113609865216, 108347, genCurrent},
	{"cache.r6g.8xlarge", 32, 225000375228, 214577, genCurrent},
	{"cache.r6g.12xlarge", 48, 341206346547, 325400, genCurrent},
	{"cache.r6g.16xlarge", 64, 450000750456, 429154, genCurrent},
	{"cache.r7g.large", 2, 14037181030, 13387, genCurrent},
	{"cache.r7g.xlarge", 4, 28261849702, 26953, genCurrent},
	{"cache.r7g.2xlarge", 8, 56711183565, 54084, genCurrent},
	{"cache.r7g.4xlarge", 16, 113609865216, 108347, genCurrent},
	{"cache.r7g.8xlarge", 32, 225000375228, 214577, genCurrent},
	{"cache.r7g.12xlarge", 48, 341206346547, 325400, genCurrent},
	{"cache.r7g.16xlarge", 64, 450000750456, 429154, genCurrent},
	{"cache.t1.micro", 0, 142606336, 0, genPrevious},
	{"cache.t2.micro", 1, 581959680, 555, genCurrent},
	{"cache.t2.small", 1, 1665138688, 1588, genCurrent},
	{"cache.t2.medium", 2, 3461349376, 3301, genCurrent},
	{"cache.m1.small", 0, 943718400, 0, genPrevious},
	{"cache.m1.medium", 0, 3093299200, 0, genPrevious},
	{"cache.m1.large", 0, 7025459200, 0, genPrevious},
	{"cache.m1.xlarge", 0, 14889779200, 0, genPrevious},
	{"cache.m2.xlarge", 0, 17091788800, 0, genPrevious},
	{"cache.m2.2xlarge", 0, 35022438400, 0, genPrevious},
	{"cache.m2.4xlarge", 0, 70883737600, 0, genPrevious},
	{"cache.m3.medium", 0, 2988441600, 0, genPrevious},
	{"cache.m3.large", 0, 6501171200, 0, genPrevious},
	{"cache.m3.xlarge", 0, 14260633600, 0, genPrevious},
	{"cache.m3.2xlarge", 0, 29989273600, 0, genPrevious},
	{"cache.m4.large", 2, 6892593152, 6573, genCurrent},
	{"cache.m4.xlarge", 4, 15328501760, 11496, genCurrent},
	{"cache.m4.2xlarge", 8, 31889126359, 30412, genCurrent},
	{"cache.m4.4xlarge", 16, 65257290629, 62234, genCurrent},
	{"cache.m4.10xlarge", 40, 166047614239, 158355, genCurrent},
	{"cache.c1.xlarge", 0, 6501171200, 0, genPrevious},
	{"cache.r3.large", 0, 14470348800, 0, genPrevious},
	{"cache.r3.xlarge", 0, 30513561600, 0, genPrevious},
	{"cache.r3.2xlarge", 0, 62495129600, 0, genPrevious},
	{"cache.r3.4xlarge", 0, 126458265600, 0, genPrevious},
	{"cache.r3.8xlarge", 0, 254384537600, 0, genPrevious},
	{"cache.r4.large", 2, 13201781556, 12590, genCurrent},
	{"cache.r4.xlarge", 4, 26898228839, 25652, genCurrent},
	{"cache.r4.2xlarge", 8, 54197537997, 51686, genCurrent},
	{"cache.r4.4xlarge", 16, 108858546586, 103815, genCurrent},
	{"cache.r4.8xlarge", 32, 218255432090, 208144, genCurrent},
	{"cache.r4.16xlarge", 64, 437021573120, 416776, genCurrent},
	{"cache.r6gd.xlarge", 0, 28261849702, 0, genCurrent},
	{"cache.r6gd.2xlarge", 0, 56711183565, 0, genCurrent},
	{"cache.r6gd.4xlarge", 0, 113609865216, 0, genCurrent},
	{"cache.r6gd.8xlarge", 0, 225000375228, 0, genCurrent},
	{"cache.r6gd.12xlarge", 0, 341206346547, 0, genCurrent},
	{"cache.r6gd.16xlarge", 0, 450000750456, 0, genCurrent},
	{"cache.c7gn.large", 2, 3317862236, 3164, genCurrent},
	{"cache.c7gn.xlarge", 4, 6854542746, 6537, genCurrent},
	{"cache.c7gn.2xlarge", 8, 13891921715, 13248, genCurrent},
	{"cache.c7gn.4xlarge", 16, 27966669210, 26671, genCurrent},
	{"cache.c7gn.8xlarge", 32, 56116178125, 53516, genCurrent},
	{"cache.c7gn.12xlarge", 48, 84357985997, 325400, genCurrent},
	{"cache.c7gn.16xlarge", 64, 113609865216, 108347, genCurrent},
	{"cache.m8g.large", 2, 7294178820, 6956, genCurrent},
	{"cache.m8g.xlarge", 4, 15222495510, 14517, genCurrent},
	{"cache.m8g.2xlarge", 8, 31866224640, 30390, genCurrent},
	{"cache.m8g.4xlarge", 16, 65856864256, 62806, genCurrent},
	{"cache.m8g.8xlarge", 32, 133838143488, 127638, genCurrent},
	{"cache.m8g.12xlarge", 48, 201819422720, 192470, genCurrent},
	{"cache.m8g.16xlarge", 64, 269800701952, 257302, genCurrent},
	{"cache.r8g.large", 2, 15222495510, 14517, genCurrent},
	{"cache.r8g.xlarge", 4, 31866224640, 30390, genCurrent},
	{"cache.r8g.2xlarge", 8, 65856864256, 62806, genCurrent},
	{"cache.r8g.4xlarge", 16, 133838143488, 127638, genCurrent},
	{"cache.r8g.8xlarge", 32, 269800701952, 257302, genCurrent},
	{"cache.r8g.12xlarge", 48, 405763260416, 386966, genCurrent},
	{"cache.r8g.16xlarge", 64, 541725818880, 516630, genCurrent},
	{"cache.c8gn.large", 2, 3330020474, 3176, genCurrent},
	{"cache.c8gn.xlarge", 4, 7294178820, 6956, genCurrent},
	{"cache.c8gn.2xlarge", 8, 15222495510, 14517, genCurrent},
	{"cache.c8gn.4xlarge", 16, 31866224640, 30390, genCurrent},
	{"cache.c8gn.8xlarge", 32, 65856864256, 62806, genCurrent},
	{"cache.c8gn.12xlarge", 48, 99847503872, 95222, genCurrent},
	{"cache.c8gn.16xlarge", 64, 133838143488, 127638, genCurrent},
}
