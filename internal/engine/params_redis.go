package engine

import (
	"slices"
	"strconv"
	"strings"
)

// Valkey and Redis OSS parameter catalogs.
//
// Each family is built from the one before it with the changes AWS documents
// on its "Engine specific parameters" page (Redis OSS 2.6.13 parameters, then
// what 2.8.x, 3.2.4, 4.0.10, 5.0.x, 6.x, 7, Valkey 7.2, 8.x and 9.x added,
// changed, renamed and removed). Data types, allowed-value notation, change
// types and modifiability follow the DescribeEngineDefaultParameters and
// DescribeCacheParameters outputs AWS publishes for redis2.8 and redis5.0
// (yes/no switches are DataType "string" there). Where a source is silent a
// choice is noted next to the parameter.

// dirOutputBuffer is the redis.conf directive that carries the
// client-output-buffer-limit-<class>-<field> parameters together:
// "client-output-buffer-limit <class> <hard> <soft> <seconds>".
const dirOutputBuffer = "client-output-buffer-limit"

const (
	policies26 = "volatile-lru,allkeys-lru,volatile-random,allkeys-random,volatile-ttl,noeviction"
	policies40 = "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,volatile-ttl,noeviction"

	listSizeAllowed = "-5,-4,-3,-2,-1,1-"
)

// renamableCommands are the commands rename-commands may rename (AWS list
// for Redis OSS 5.0.3 and later).
const renamableCommands = "APPEND,AUTH,BITCOUNT,BITFIELD,BITOP,BITPOS,BLPOP,BRPOP,BRPOPLPUSH,BZPOPMIN,BZPOPMAX,CLIENT,CLUSTER,COMMAND,DBSIZE,DECR,DECRBY,DEL,DISCARD,DUMP,ECHO,EVAL,EVALSHA,EXEC,EXISTS,EXPIRE,EXPIREAT,FLUSHALL,FLUSHDB,GEOADD,GEOHASH,GEOPOS,GEODIST,GEORADIUS,GEORADIUSBYMEMBER,GET,GETBIT,GETRANGE,GETSET,HDEL,HEXISTS,HGET,HGETALL,HINCRBY,HINCRBYFLOAT,HKEYS,HLEN,HMGET,HMSET,HSET,HSETNX,HSTRLEN,HVALS,INCR,INCRBY,INCRBYFLOAT,INFO,KEYS,LASTSAVE,LINDEX,LINSERT,LLEN,LPOP,LPUSH,LPUSHX,LRANGE,LREM,LSET,LTRIM,MEMORY,MGET,MONITOR,MOVE,MSET,MSETNX,MULTI,OBJECT,PERSIST,PEXPIRE,PEXPIREAT,PFADD,PFCOUNT,PFMERGE,PING,PSETEX,PSUBSCRIBE,PUBSUB,PTTL,PUBLISH,PUNSUBSCRIBE,RANDOMKEY,READONLY,READWRITE,RENAME,RENAMENX,RESTORE,ROLE,RPOP,RPOPLPUSH,RPUSH,RPUSHX,SADD,SCARD,SCRIPT,SDIFF,SDIFFSTORE,SELECT,SET,SETBIT,SETEX,SETNX,SETRANGE,SINTER,SINTERSTORE,SISMEMBER,SLOWLOG,SMEMBERS,SMOVE,SORT,SPOP,SRANDMEMBER,SREM,STRLEN,SUBSCRIBE,SUNION,SUNIONSTORE,SWAPDB,TIME,TOUCH,TTL,TYPE,UNSUBSCRIBE,UNLINK,UNWATCH,WAIT,WATCH,ZADD,ZCARD,ZCOUNT,ZINCRBY,ZINTERSTORE,ZLEXCOUNT,ZPOPMAX,ZPOPMIN,ZRANGE,ZRANGEBYLEX,ZREVRANGEBYLEX,ZRANGEBYSCORE,ZRANK,ZREM,ZREMRANGEBYLEX,ZREMRANGEBYRANK,ZREMRANGEBYSCORE,ZREVRANGE,ZREVRANGEBYSCORE,ZREVRANK,ZSCORE,ZUNIONSTORE,SCAN,SSCAN,HSCAN,ZSCAN,XINFO,XADD,XTRIM,XDEL,XRANGE,XREVRANGE,XLEN,XREAD,XGROUP,XREADGROUP,XACK,XCLAIM,XPENDING,GEORADIUS_RO,GEORADIUSBYMEMBER_RO,LOLWUT,XSETID,SUBSTR"

func outputBuffer(class, field, value, desc string) Param {
	return intParam("client-output-buffer-limit-"+class+"-"+field, value, "0-", dirOutputBuffer, desc)
}

// redis26: the Redis OSS 2.6.13 parameters.
func redis26() []Param {
	return []Param{
		// Conditionally modifiable: only while the group is not attached to a
		// cluster; that check belongs to the caller.
		reboot(yesNo("activerehashing", "yes", "activerehashing", "Rehash the main hash table incrementally, using a little CPU to reclaim memory.")),
		yesNo("appendonly", "no", "appendonly", "Log every write to an append-only file."),
		strParam("appendfsync", "everysec", "always,everysec,no", "appendfsync", "How often the append-only file is flushed to disk."),
		outputBuffer("normal", "hard-limit", "0", "Disconnect a normal client whose output buffer reaches this many bytes; 0 means no limit."),
		outputBuffer("normal", "soft-limit", "0", "Disconnect a normal client whose output buffer stays above this many bytes for the soft-seconds period; 0 means no limit."),
		outputBuffer("normal", "soft-seconds", "0", "Seconds a normal client may stay above its soft limit."),
		outputBuffer("pubsub", "hard-limit", "33554432", "Disconnect a pub/sub client whose output buffer reaches this many bytes."),
		outputBuffer("pubsub", "soft-limit", "8388608", "Disconnect a pub/sub client whose output buffer stays above this many bytes for the soft-seconds period."),
		outputBuffer("pubsub", "soft-seconds", "60", "Seconds a pub/sub client may stay above its soft limit."),
		fixed(outputBuffer("slave", "soft-seconds", "60", "Seconds a replica link may stay above its soft limit.")),
		// Conditionally modifiable, like activerehashing.
		reboot(intParam("databases", "16", "1-1200000", "databases", "Number of logical databases.")),
		intParam("hash-max-ziplist-entries", "512", "0-", "hash-max-ziplist-entries", "Hashes with at most this many entries use the compact encoding."),
		intParam("hash-max-ziplist-value", "64", "0-", "hash-max-ziplist-value", "Hashes whose values are at most this many bytes use the compact encoding."),
		// Gone from the engines since Redis 3.2: no directive.
		intParam("list-max-ziplist-entries", "512", "0-", "", "Lists with at most this many entries use the compact encoding."),
		intParam("list-max-ziplist-value", "64", "0-", "", "Lists whose values are at most this many bytes use the compact encoding."),
		fixed(intParam("lua-time-limit", "5000", "5000", "lua-time-limit", "Milliseconds a script may run before the server starts answering BUSY.")),
		reboot(fixed(intParam("maxclients", "65000", "1-65000", "maxclients", "Maximum number of connected clients."))),
		strParam("maxmemory-policy", "volatile-lru", policies26, "maxmemory-policy", "Which keys to evict when maxmemory is reached."),
		intParam("maxmemory-samples", "3", "1-", "maxmemory-samples", "Keys sampled per eviction by the approximated LRU, LFU and TTL algorithms."),
		intParam("reserved-memory", "0", "0-", "", "Bytes of the node's memory kept back from data, for overhead such as replication and snapshots."),
		intParam("set-max-intset-entries", "512", "0-", "set-max-intset-entries", "Sets of integers with at most this many members use the compact encoding."),
		fixed(yesNo("slave-allow-chaining", "no", "", "Whether a read replica may have replicas of its own.")),
		intParam("slowlog-log-slower-than", "10000", "-", "slowlog-log-slower-than", "Commands slower than this many microseconds go to the slow log; negative disables it, 0 logs everything."),
		intParam("slowlog-max-len", "128", "0-", "slowlog-max-len", "Number of entries kept in the slow log."),
		intParam("tcp-keepalive", "0", "0-", "tcp-keepalive", "Seconds between TCP keepalive probes to clients; 0 disables them."),
		intParam("timeout", "0", "0,20-", "timeout", "Close a client idle for this many seconds; 0 never does."),
		intParam("zset-max-ziplist-entries", "128", "0-", "zset-max-ziplist-entries", "Sorted sets with at most this many members use the compact encoding."),
		intParam("zset-max-ziplist-value", "64", "0-", "zset-max-ziplist-value", "Sorted sets whose members are at most this many bytes use the compact encoding."),
	}
}

// redis28: 2.8.6 added replication and keyspace-notification parameters;
// 2.8.23 added close-on-slave-write.
func redis28() []Param {
	return append(inherit(redis26()),
		intParam("min-slaves-max-lag", "10", "0-", "min-replicas-max-lag", "Seconds without a ping after which a replica no longer counts for min-slaves-to-write."),
		intParam("min-slaves-to-write", "0", "0-", "min-replicas-to-write", "Replicas that must be connected and current for the primary to accept writes; 0 disables the check."),
		strParam("notify-keyspace-events", "", "", "notify-keyspace-events", "Keyspace events published to Pub/Sub clients, as event-class letters; empty disables them."),
		intParam("repl-backlog-size", "1048576", "16384-", "repl-backlog-size", "Bytes of the primary's replication backlog used for partial resynchronisation."),
		intParam("repl-backlog-ttl", "3600", "0-", "repl-backlog-ttl", "Seconds the backlog is kept after the last replica disconnects; 0 keeps it forever."),
		intParam("repl-timeout", "60", "11-", "repl-timeout", "Replication timeout in seconds."),
		since("2.8.23", yesNo("close-on-slave-write", "yes", "", "Disconnect clients that write to a read replica, so they reconnect to the new primary after a promotion.")),
	)
}

// redis32: 3.2.4 added cluster mode and reserved-memory-percent, and made
// AOF and repl-timeout unmodifiable.
func redis32() []Param {
	ps := append(inherit(redis28()),
		fixed(intParam("list-max-ziplist-size", "-2", listSizeAllowed, "list-max-ziplist-size", "Size of each list node: -1 to -5 cap it at 4 to 64 KB, a positive number caps the entries.")),
		intParam("list-compress-depth", "0", "0-", "list-compress-depth", "List nodes at each end left uncompressed; 0 disables compression."),
		reboot(fixed(yesNo("cluster-enabled", "no", "cluster-enabled", "Whether the group runs in cluster mode (sharded); set by the default group chosen."))),
		yesNo("cluster-require-full-coverage", "no", "cluster-require-full-coverage", "Whether cluster nodes stop serving when any hash slot is uncovered."),
		intParam("hll-sparse-max-bytes", "3000", "1-16000", "hll-sparse-max-bytes", "HyperLogLogs up to this many bytes keep the sparse encoding."),
		intParam("reserved-memory-percent", "25", "0-100", "", "Percent of the node's memory kept back from data, for overhead such as replication and snapshots."),
	)
	ps = remove(ps, "list-max-ziplist-entries", "list-max-ziplist-value")
	ps = edit(ps, "appendonly", func(p *Param) { p.IsModifiable = false })
	ps = edit(ps, "appendfsync", func(p *Param) { p.IsModifiable = false })
	ps = edit(ps, "repl-timeout", func(p *Param) { p.IsModifiable = false })
	ps = edit(ps, "tcp-keepalive", func(p *Param) { p.ParameterValue = "300" })
	return ps
}

// redis40: 4.0.10 added LFU eviction, lazy freeing, active defragmentation
// and buffer limits.
func redis40() []Param {
	ps := append(inherit(redis32()),
		yesNo("lazyfree-lazy-eviction", "no", "lazyfree-lazy-eviction", "Free evicted keys in the background."),
		yesNo("lazyfree-lazy-expire", "no", "lazyfree-lazy-expire", "Free expired keys in the background."),
		yesNo("lazyfree-lazy-server-del", "no", "lazyfree-lazy-server-del", "Free values replaced or deleted by commands in the background."),
		fixed(yesNo("slave-lazy-flush", "no", "replica-lazy-flush", "Flush the old dataset in the background when a replica resynchronises.")),
		intParam("lfu-log-factor", "10", "1-", "lfu-log-factor", "How many hits it takes to saturate a key's LFU counter."),
		intParam("lfu-decay-time", "1", "0-", "lfu-decay-time", "Minutes after which an idle key's LFU counter is decremented."),
		yesNo("activedefrag", "no", "activedefrag", "Defragment memory in the background."),
		intParam("active-defrag-ignore-bytes", "104857600", "1048576-", "active-defrag-ignore-bytes", "Fragmentation waste, in bytes, needed before defragmentation starts."),
		intParam("active-defrag-threshold-lower", "10", "1-100", "active-defrag-threshold-lower", "Fragmentation percent at which defragmentation starts."),
		intParam("active-defrag-threshold-upper", "100", "1-100", "active-defrag-threshold-upper", "Fragmentation percent at which defragmentation works at full effort."),
		intParam("active-defrag-cycle-min", "25", "1-75", "active-defrag-cycle-min", "Least CPU percent spent on defragmentation."),
		intParam("active-defrag-cycle-max", "75", "1-75", "active-defrag-cycle-max", "Most CPU percent spent on defragmentation."),
		intParam("client-query-buffer-limit", "1073741824", "1048576-1073741824", "client-query-buffer-limit", "Largest query buffer of one client, in bytes."),
		intParam("proto-max-bulk-len", "536870912", "1048576-536870912", "proto-max-bulk-len", "Largest single element of a request, in bytes."),
	)
	ps = edit(ps, "maxmemory-policy", func(p *Param) { p.AllowedValues = policies40 })
	return ps
}

// redis50: 5.0 added streams and renamed the slave-* parameters; 5.0.3
// added rename-commands.
func redis50() []Param {
	ps := append(inherit(redis40()),
		intParam("stream-node-max-bytes", "4096", "0-", "stream-node-max-bytes", "Largest stream node, in bytes; 0 means no limit."),
		intParam("stream-node-max-entries", "100", "0-", "stream-node-max-entries", "Most entries in one stream node; 0 means no limit."),
		intParam("active-defrag-max-scan-fields", "1000", "1-1000000", "active-defrag-max-scan-fields", "Most fields of one set, hash, sorted set or list processed in one main-dictionary scan step."),
		yesNo("lua-replicate-commands", "yes", "lua-replicate-commands", "Replicate the effects of scripts instead of the scripts themselves."),
		fixed(yesNo("replica-ignore-maxmemory", "yes", "replica-ignore-maxmemory", "Replicas leave eviction to the primary.")),
		since("5.0.3", strParam("rename-commands", "", renamableCommands, "rename-command", "Space-separated pairs of a command and its new name.")),
	)
	ps = edit(ps, "active-defrag-cycle-min", func(p *Param) { p.ParameterValue = "5" })
	ps = rename(ps, "slave-lazy-flush", "replica-lazy-flush")
	ps = rename(ps, "client-output-buffer-limit-slave-soft-seconds", "client-output-buffer-limit-replica-soft-seconds")
	ps = rename(ps, "slave-allow-chaining", "replica-allow-chaining")
	ps = rename(ps, "min-slaves-to-write", "min-replicas-to-write")
	ps = rename(ps, "min-slaves-max-lag", "min-replicas-max-lag")
	ps = rename(ps, "close-on-slave-write", "close-on-replica-write")
	ps = edit(ps, "min-replicas-max-lag", func(p *Param) {
		p.Description = "Seconds without a ping after which a replica no longer counts for min-replicas-to-write."
	})
	ps = remove(ps, "repl-timeout")
	return ps
}

// redis6x: 6.0 added ACL, client tracking and lazy user deletes; 6.2 added
// acl-pubsub-default.
func redis6x() []Param {
	ps := append(inherit(redis50()),
		since("6.2.0", strParam("acl-pubsub-default", "allchannels", "resetchannels,allchannels", "acl-pubsub-default", "Default Pub/Sub channel permissions of ACL users.")),
		yesNo("cluster-allow-reads-when-down", "no", "cluster-allow-reads-when-down", "Whether cluster nodes keep serving reads when the cluster is down."),
		intParam("tracking-table-max-keys", "1000000", "1-100000000", "tracking-table-max-keys", "Most keys tracked for client-side caching invalidation."),
		intParam("acllog-max-len", "128", "1-10000", "acllog-max-len", "Entries kept in the ACL log."),
		intParam("active-expire-effort", "1", "1-10", "active-expire-effort", "Effort spent expiring keys in the background, from 1 to 10."),
		yesNo("lazyfree-lazy-user-del", "no", "lazyfree-lazy-user-del", "Make DEL free values in the background, like UNLINK."),
	)
	return remove(ps, "lua-replicate-commands")
}

// redis7: Redis OSS 7 switched the compact encodings to listpack and added
// sharded Pub/Sub and latency tracking.
func redis7() []Param {
	ps := append(inherit(redis6x()),
		yesNo("cluster-allow-pubsubshard-when-down", "yes", "cluster-allow-pubsubshard-when-down", "Whether nodes keep serving sharded Pub/Sub for their slots when the cluster is down."),
		// ElastiCache values: "tls-dynamic" advertises hostnames when
		// in-transit encryption is on; the engine directive takes other
		// values, so the process driver decides what to announce.
		strParam("cluster-preferred-endpoint-type", "tls-dynamic", "ip,tls-dynamic", "", "What cluster redirections and CLUSTER SLOTS/SHARDS advertise: an IP address, or a hostname when in-transit encryption is on."),
		yesNo("latency-tracking", "no", "latency-tracking", "Track per-command latency percentiles."),
		intParam("hash-max-listpack-entries", "512", "0-", "hash-max-listpack-entries", "Hashes with at most this many entries use the compact encoding."),
		intParam("hash-max-listpack-value", "64", "0-", "hash-max-listpack-value", "Hashes whose values are at most this many bytes use the compact encoding."),
		intParam("zset-max-listpack-entries", "128", "0-", "zset-max-listpack-entries", "Sorted sets with at most this many members use the compact encoding."),
		intParam("zset-max-listpack-value", "64", "0-", "zset-max-listpack-value", "Sorted sets whose members are at most this many bytes use the compact encoding."),
		// AWS lists list-max-ziplist-size as removed in 7 without naming the
		// successor; the engine's own name is used, modifiable as the 7 page
		// shows its predecessor.
		intParam("list-max-listpack-size", "-2", listSizeAllowed, "list-max-listpack-size", "Size of each list node: -1 to -5 cap it at 4 to 64 KB, a positive number caps the entries."),
	)
	ps = remove(ps, "hash-max-ziplist-entries", "hash-max-ziplist-value",
		"zset-max-ziplist-entries", "zset-max-ziplist-value", "list-max-ziplist-size")
	ps = edit(ps, "activerehashing", func(p *Param) { p.IsModifiable = false })
	// lua-time-limit is the older name of busy-reply-threshold.
	ps = edit(ps, "lua-time-limit", func(p *Param) { p.EngineDirective = "busy-reply-threshold" })
	return ps
}

// valkey7: Valkey 7.2 has the Redis OSS 7 parameters.
func valkey7() []Param { return inherit(redis7()) }

// valkey8: Valkey 8.0 changes, plus what 8.1 and 8.2 added (with their
// minimum versions).
func valkey8() []Param {
	ps := append(inherit(valkey7()),
		yesNo("extended-redis-compatibility", "yes", "extended-redis-compatibility", "Make Valkey present itself as Redis OSS 7.2 to clients that check the server name."),
		since("8.1.0", intParam("commandlog-request-larger-than", "1048576", "-1-", "commandlog-request-larger-than", "Requests larger than this many bytes go to the command log; -1 disables it.")),
		since("8.1.0", intParam("commandlog-large-request-max-len", "128", "0-1024", "commandlog-large-request-max-len", "Entries kept in the command log of large requests.")),
		since("8.1.0", intParam("commandlog-reply-larger-than", "1048576", "-1-", "commandlog-reply-larger-than", "Replies larger than this many bytes go to the command log; -1 disables it.")),
		since("8.1.0", intParam("commandlog-large-reply-max-len", "128", "0-1024", "commandlog-large-reply-max-len", "Entries kept in the command log of large replies.")),
		// Search settings belong to the search module ElastiCache loads; the
		// engines here do not load it, so they carry no directive.
		since("8.2.0", strParam("search-fanout-target-mode", "client", "client,throughput", "", "How search queries spread over the cluster: by client connection type, or over every node for throughput.")),
		since("8.2.0", intParam("search-default-timeout-ms", "50000", "1-60000", "", "Default search query timeout in milliseconds.")),
		since("8.2.0", yesNo("search-enable-partial-results", "yes", "", "Return partial search results when some shards time out.")),
	)
	ps = edit(ps, "repl-backlog-size", func(p *Param) { p.ParameterValue = "10485760" })
	ps = edit(ps, "maxmemory-samples", func(p *Param) { p.AllowedValues = "1-64" })
	// AWS lists these as removed from Valkey 8 parameter groups.
	return remove(ps, "lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-server-del",
		"lazyfree-lazy-user-del", "replica-lazy-flush")
}

// valkey9: Valkey 9 adds databases in cluster mode. AWS's table gives the
// range 1 to 10,000 with a default of 0; 1, the engine's own default and
// inside the range, is used.
func valkey9() []Param {
	return append(inherit(valkey8()),
		reboot(fixed(intParam("cluster-databases", "1", "1-10000", "cluster-databases", "Number of databases available in cluster mode; set when the cluster is created."))),
	)
}

// redisNodeTypeParams: maxmemory and the replica output buffer limits per
// node type. The buffer limits are a tenth of maxmemory, except for the
// older types where AWS publishes other values.
func redisNodeTypeParams(f FamilyInfo) []NodeTypeParam {
	replica := "replica"
	if CompareVersions(f.BaseVersion, "5.0.0") < 0 {
		replica = "slave"
	}
	var mem, limit []NodeTypeValue
	for _, n := range nodeTypes {
		if f.Engine == EngineValkey && n.Generation != GenerationCurrent {
			continue
		}
		mem = append(mem, NodeTypeValue{n.Name, strconv.FormatInt(n.MaxMemoryBytes, 10)})
		l, ok := replicaBufferOverrides[n.Name]
		if !ok {
			l = n.MaxMemoryBytes / 10
		}
		limit = append(limit, NodeTypeValue{n.Name, strconv.FormatInt(l, 10)})
	}
	sortValues(mem)
	sortValues(limit)
	ntp := func(name, desc, directive string, vals []NodeTypeValue) NodeTypeParam {
		return NodeTypeParam{
			ParameterName: name, Description: desc, Source: SourceSystem, DataType: TypeInteger,
			AllowedValues: "0-", MinimumEngineVersion: f.BaseVersion, ChangeType: ChangeImmediate,
			EngineDirective: directive, Values: slices.Clone(vals),
		}
	}
	return []NodeTypeParam{
		ntp("client-output-buffer-limit-"+replica+"-hard-limit", "Disconnect a replica link whose output buffer reaches this many bytes.", dirOutputBuffer, limit),
		ntp("client-output-buffer-limit-"+replica+"-soft-limit", "Disconnect a replica link whose output buffer stays above this many bytes for the soft-seconds period.", dirOutputBuffer, limit),
		ntp("maxmemory", "Memory of the node type available for data, in bytes, before reserved memory is taken off.", "maxmemory", mem),
	}
}

// replicaBufferOverrides are the published replica output buffer limits
// that are not a tenth of maxmemory truncated (DescribeEngineDefaultParameters
// for redis2.8; the m4 values there are rounded rather than truncated).
var replicaBufferOverrides = map[string]int64{
	"cache.m4.2xlarge":  3188912636,
	"cache.m4.4xlarge":  6525729063,
	"cache.m4.10xlarge": 16604761424,
	"cache.m3.medium":   309329920,
	"cache.r3.large":    1468006400,
	"cache.r3.xlarge":   3040870400,
	"cache.r3.2xlarge":  6081740800,
	"cache.r3.4xlarge":  12268339200,
	"cache.r3.8xlarge":  24536678400,
}

func sortValues(vs []NodeTypeValue) {
	slices.SortFunc(vs, func(a, b NodeTypeValue) int { return strings.Compare(a.CacheNodeType, b.CacheNodeType) })
}
