package metrics

import (
	"context"

	"github.com/ecache/ecache/internal/memcache"
)

// memcachedCounters are CloudWatch's memcached counts and the "stats" field each comes from.
var memcachedCounters = [][2]string{
	{"BytesReadIntoMemcached", "bytes_read"}, {"BytesWrittenOutFromMemcached", "bytes_written"},
	{"NetworkBytesIn", "bytes_read"}, {"NetworkBytesOut", "bytes_written"},
	{"CasBadval", "cas_badval"}, {"CasHits", "cas_hits"}, {"CasMisses", "cas_misses"},
	{"CmdFlush", "cmd_flush"}, {"CmdGet", "cmd_get"}, {"CmdSet", "cmd_set"}, {"CmdTouch", "cmd_touch"},
	{"DecrHits", "decr_hits"}, {"DecrMisses", "decr_misses"}, {"DeleteHits", "delete_hits"}, {"DeleteMisses", "delete_misses"},
	{"IncrHits", "incr_hits"}, {"IncrMisses", "incr_misses"}, {"TouchHits", "touch_hits"}, {"TouchMisses", "touch_misses"},
	{"GetHits", "get_hits"}, {"GetMisses", "get_misses"},
	{"Evictions", "evictions"}, {"Reclaimed", "reclaimed"},
	{"NewConnections", "total_connections"}, {"NewItems", "total_items"},
}

// readMemcached reads a memcached node's "stats" and sends its metrics; a node that does not answer sends
// none.
func readMemcached(ctx context.Context, t Target, out sink) {
	stats, err := memcache.Stats(ctx, t.Addr, t.TLS)
	if err != nil {
		return
	}
	for _, c := range memcachedCounters {
		out.counter(c[0], number(stats[c[1]]))
	}
	out.gauge("CurrConnections", number(stats["curr_connections"]))
	out.gauge("CurrItems", number(stats["curr_items"]))
	out.gauge("BytesUsedForCacheItems", number(stats["bytes"]))
	out.gauge("UnusedMemory", max(0, number(stats["limit_maxbytes"])-number(stats["bytes"])))
}
