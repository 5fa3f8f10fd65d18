package engine

import "strconv"

// Memcached parameter catalogs.
//
// Built the same way as the Redis OSS ones: the Memcached 1.4.5 parameters,
// then what 1.4.14, 1.4.24, 1.4.33, 1.5.10 and 1.6.6 added or removed, from
// AWS's "Engine specific parameters" page. Memcached switches are DataType
// "boolean" with allowed values "0,1". Where AWS gives no range, the range is
// the one the memcached binary itself enforces (noted at the parameter).
//
// EngineDirective names the memcached flag ("-c") or extended option
// ("-o hash_algorithm"); MemcachedArgs turns values into arguments.

func boolParam(name, value, directive, desc string) Param {
	return reboot(param(name, value, TypeBoolean, "0,1", directive, desc))
}

func mcInt(name, value, allowed, directive, desc string) Param {
	return reboot(intParam(name, value, allowed, directive, desc))
}

// memcached14: the 1.4.5 parameters, then 1.4.14, 1.4.24 and 1.4.33 additions.
func memcached14() []Param {
	return []Param{
		fixed(mcInt("backlog_queue_limit", "1024", "1-10000", "-b", "Length of the queue of connections waiting to be accepted.")),
		reboot(strParam("binding_protocol", "auto", "auto,ascii", "-B", "Protocol the server speaks: ascii, or auto to detect per connection.")),
		boolParam("cas_disabled", "0", "-C", "1 disables check-and-set, saving 8 bytes per item."),
		mcInt("chunk_size", "48", "1-", "-n", "Smallest space, in bytes, allocated for an item's key, value and flags."),
		// memcached refuses factors of 1 or less.
		reboot(param("chunk_size_growth_factor", "1.25", TypeFloat, "1.01-", "-f", "Factor by which each slab class's chunk size grows over the previous one.")),
		boolParam("error_on_memory_exhausted", "0", "-M", "1 returns an error when memory is full instead of evicting items."),
		fixed(boolParam("large_memory_pages", "0", "-L", "1 tries to use large memory pages.")),
		fixed(boolParam("lock_down_paged_memory", "0", "-k", "1 locks all paged memory.")),
		// Range as memcached enforces it (1 KB to 1 GB; also at most half of
		// the item memory).
		mcInt("max_item_size", "1048576", "1024-1073741824", "-I", "Largest item that can be stored, in bytes."),
		fixed(mcInt("max_simultaneous_connections", "65000", "1-65000", "-c", "Maximum number of simultaneous connections.")),
		boolParam("maximize_core_file_limit", "0", "-r", "1 raises the core file size limit to the maximum."),
		mcInt("memcached_connections_overhead", "100", "0-", "", "MiB of max_cache_memory kept back for connections and other overhead."),
		fixed(mcInt("requests_per_event", "20", "1-", "-R", "Most requests handled per event for one connection, to prevent starvation.")),

		since("1.4.14", fixed(mcInt("config_max", "16", "0-", "", "Most ElastiCache configuration entries."))),
		since("1.4.14", fixed(mcInt("config_size_max", "65536", "0-", "", "Largest size of the configuration entries, in bytes."))),
		// memcached caps the hash power at 32.
		since("1.4.14", fixed(mcInt("hashpower_init", "16", "1-32", "-o hashpower", "Initial size of the hash table as a power of two."))),
		since("1.4.14", boolParam("maxconns_fast", "0", "-o maxconns_fast", "1 answers new connections over the limit with an error at once instead of queueing them.")),
		since("1.4.14", mcInt("slab_automove", "0", "0-2", "-o slab_automove", "Slab rebalancing: 0 off, 1 conservative, 2 aggressive.")),
		since("1.4.14", boolParam("slab_reassign", "0", "-o slab_reassign", "1 allows moving memory between slab classes.")),

		since("1.4.24", boolParam("disable_flush_all", "0", "-F", "1 disables the flush_all command.")),
		since("1.4.24", reboot(strParam("hash_algorithm", "jenkins", "jenkins,murmur3", "-o hash_algorithm", "Hash algorithm of the item table."))),
		since("1.4.24", boolParam("lru_crawler", "0", "-o lru_crawler", "1 runs the background thread that reclaims expired items.")),
		since("1.4.24", boolParam("lru_maintainer", "0", "-o lru_maintainer", "1 runs the background thread that balances items between the LRUs.")),
		since("1.4.24", boolParam("expirezero_does_not_evict", "0", "-o expirezero_does_not_evict", "With lru_maintainer, 1 makes items without an expiry unevictable.")),

		since("1.4.33", boolParam("modern", "1", "-o modern", "1 turns on the newer defaults: slab rebalancing, LRU crawler and maintainer, fast connection refusal and murmur3.")),
		since("1.4.33", param("watch", "1", TypeBoolean, "0,1", "-W", "1 allows the watch command to stream fetch, eviction and mutation logs.")),
		since("1.4.33", mcInt("idle_timeout", "0", "0-86400", "-o idle_timeout", "Seconds a client may idle before it is disconnected; 0 never.")),
		since("1.4.33", boolParam("track_sizes", "0", "-o track_sizes", "1 keeps the statistics behind \"stats sizes\" up to date.")),
		since("1.4.33", mcInt("watcher_logbuf_size", "256", "1-", "-o watcher_logbuf_size", "KiB of log buffer per watcher.")),
		since("1.4.33", mcInt("worker_logbuf_size", "64", "1-", "-o worker_logbuf_size", "KiB of log buffer per worker thread.")),
		// memcached wants a size that divides its 1 MiB slab page: a power of two up to 1048576.
		since("1.4.33", mcInt("slab_chunk_max", "524288", "1024-1048576", "-o slab_chunk_max", "Largest slab chunk, in bytes; larger items span several chunks.")),
	}
}

// memcached15: 1.5.10 added no_modern and inline_ascii_resp and removed
// modern and expirezero_does_not_evict.
func memcached15() []Param {
	ps := append(inherit(memcached14()),
		boolParam("no_modern", "1", "-o no_modern", "1 keeps the 1.4 behaviour: no slab rebalancing, LRU maintainer or fast connection refusal, and the jenkins hash."),
		boolParam("inline_ascii_resp", "0", "-o inline_ascii_response", "1 stores the ASCII VALUE response line inside the item."),
	)
	return remove(ps, "modern", "expirezero_does_not_evict")
}

// memcached16: 1.6.6 added no parameters. The 1.6 engines no longer have the
// inline ASCII response option, so it carries no directive.
func memcached16() []Param {
	return edit(inherit(memcached15()), "inline_ascii_resp", func(p *Param) { p.EngineDirective = "" })
}

// memcachedNodeTypeParams: max_cache_memory (MiB) and num_threads per node
// type, for the types AWS lists for Memcached.
func memcachedNodeTypeParams(f FamilyInfo) []NodeTypeParam {
	var mem, threads []NodeTypeValue
	for _, n := range nodeTypes {
		if n.NoMemcached || n.MemcachedMB == 0 {
			continue
		}
		mem = append(mem, NodeTypeValue{n.Name, strconv.FormatInt(n.MemcachedMB, 10)})
		if n.VCPU > 0 {
			threads = append(threads, NodeTypeValue{n.Name, strconv.Itoa(n.VCPU)})
		}
	}
	sortValues(mem)
	sortValues(threads)
	ntp := func(name, desc, allowed, directive string, vals []NodeTypeValue) NodeTypeParam {
		return NodeTypeParam{
			ParameterName: name, Description: desc, Source: SourceSystem, DataType: TypeInteger,
			AllowedValues: allowed, MinimumEngineVersion: f.BaseVersion, ChangeType: ChangeRequiresReboot,
			EngineDirective: directive, Values: vals,
		}
	}
	return []NodeTypeParam{
		ntp("max_cache_memory", "Memory of the node type for Memcached, in MiB; items get this less memcached_connections_overhead.", "0-", "-m", mem),
		ntp("num_threads", "Number of worker threads (the node type's vCPUs).", "1-", "-t", threads),
	}
}
