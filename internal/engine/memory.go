package engine

// memcachedOverheadMB is the default memcached_connections_overhead.
const memcachedOverheadMB = 100

const mib = 1 << 20

// MemoryLimit is the item memory, in bytes, of one node of a node type:
// for Valkey and Redis OSS the maxmemory left after reservedPercent
// (reserved-memory-percent, default 25) is taken off; for Memcached
// max_cache_memory less the default memcached_connections_overhead of
// 100 MiB (reservedPercent does not apply). It returns 0 for an unknown node
// type or engine, or when the type's Memcached memory is unknown.
func MemoryLimit(nodeType string, engine string, reservedPercent int) int64 {
	n, ok := NodeType(nodeType)
	if !ok {
		return 0
	}
	switch engine {
	case EngineValkey, EngineRedis:
		return n.EngineMaxMemory(reservedPercent)
	case EngineMemcached:
		return memcachedItemMB(n, memcachedOverheadMB) * mib
	}
	return 0
}

// memcachedItemMB is max_cache_memory less the connection overhead, in MiB;
// 0 when unknown or nothing is left.
func memcachedItemMB(n NodeTypeInfo, overheadMB int64) int64 {
	if n.NoMemcached || n.MemcachedMB == 0 {
		return 0
	}
	return max(n.MemcachedMB-overheadMB, 0)
}
