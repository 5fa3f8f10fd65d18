package metrics

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// engineConn is what the collector keeps of a Valkey or Redis OSS node between scrapes: its connection,
// which commands read and which write (for GetTypeCmds and SetTypeCmds), and the last CPU sample.
type engineConn struct {
	mu       sync.Mutex
	conn     *resp.Conn
	password string
	user     string
	kinds    map[string]commandKind

	runID  string
	cpu    float64 // main thread CPU seconds at the last scrape
	readAt time.Time
}

type commandKind uint8

const (
	otherCommand commandKind = iota
	readCommand
	writeCommand
)

func (e *engineConn) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

// info returns the node's INFO all, connecting (and reading its command table) first when needed.
func (e *engineConn) info(ctx context.Context, t Target) (map[string]string, error) {
	if e.conn != nil && (e.password != t.Password || e.user != t.User) {
		e.conn.Close()
		e.conn = nil
	}
	if e.conn == nil {
		c, err := resp.Dial(ctx, resp.Node{Addr: t.Addr, User: t.User, Password: t.Password, TLS: t.TLS}, resp.Options{DialTimeout: scrapeTimeout, ReadBufferSize: 64 << 10})
		if err != nil {
			return nil, err
		}
		e.conn, e.password, e.user = c, t.Password, t.User
		if e.kinds == nil {
			table, err := c.Do(ctx, "COMMAND")
			if err != nil {
				e.drop()
				return nil, err
			}
			e.kinds = commandKinds(table)
		}
	}
	v, err := e.conn.Do(ctx, "INFO", "all")
	if err != nil {
		e.drop()
		return nil, err
	}
	return parseInfo(v.Str), nil
}

// drop closes the connection after a failure; the caller holds mu.
func (e *engineConn) drop() {
	e.conn.Close()
	e.conn = nil
}

// commandKinds reads COMMAND's reply: commands (and subcommands, "config|get") flagged readonly read,
// those flagged write write.
func commandKinds(table resp.Value) map[string]commandKind {
	out := map[string]commandKind{}
	var add func(entries []resp.Value)
	add = func(entries []resp.Value) {
		for _, entry := range entries {
			if len(entry.Elems) < 3 {
				continue
			}
			kind := otherCommand
			for _, f := range entry.Elems[2].Elems {
				switch f.Str {
				case "readonly":
					kind = readCommand
				case "write":
					kind = writeCommand
				}
			}
			out[strings.ToLower(entry.Elems[0].Str)] = kind
			if len(entry.Elems) >= 10 {
				add(entry.Elems[9].Elems)
			}
		}
	}
	add(table.Elems)
	return out
}

// parseInfo reads INFO's "field:value" lines.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(s) {
		if k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// subfields reads a "k=v,k=v" INFO value.
func subfields(v string) map[string]string {
	out := map[string]string{}
	for f := range strings.SplitSeq(v, ",") {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

func number(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// read reads the node and sends its metrics; a node that does not answer sends none.
func (e *engineConn) read(ctx context.Context, t Target, out sink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	info, err := e.info(ctx, t)
	if err != nil {
		return
	}
	now := time.Now()
	n := func(k string) float64 { return number(info[k]) }
	out.gauge("BytesUsedForCache", n("used_memory"))
	if max := n("maxmemory"); max > 0 {
		out.gauge("DatabaseMemoryUsagePercentage", 100*n("used_memory")/max)
	}
	out.gauge("MemoryFragmentationRatio", n("mem_fragmentation_ratio"))
	out.gauge("CurrConnections", n("connected_clients"))
	out.counter("NewConnections", n("total_connections_received"))
	hits, misses := n("keyspace_hits"), n("keyspace_misses")
	out.counter("CacheHits", hits)
	out.counter("CacheMisses", misses)
	rate := 0.0
	if hits+misses > 0 {
		rate = 100 * hits / (hits + misses)
	}
	out.gauge("CacheHitRate", rate)
	out.counter("Evictions", n("evicted_keys"))
	out.counter("Reclaimed", n("expired_keys"))
	out.counter("NetworkBytesIn", n("total_net_input_bytes"))
	out.counter("NetworkBytesOut", n("total_net_output_bytes"))
	out.gauge("SaveInProgress", n("rdb_bgsave_in_progress"))
	var items, volatile, gets, sets float64
	for k, v := range info {
		switch {
		case strings.HasPrefix(k, "db") && strings.Contains(v, "keys="):
			f := subfields(v)
			items += number(f["keys"])
			volatile += number(f["expires"])
		case strings.HasPrefix(k, "cmdstat_"):
			switch e.kinds[strings.TrimPrefix(k, "cmdstat_")] {
			case readCommand:
				gets += number(subfields(v)["calls"])
			case writeCommand:
				sets += number(subfields(v)["calls"])
			}
		}
	}
	out.gauge("CurrItems", items)
	out.gauge("CurrVolatileItems", volatile)
	out.counter("GetTypeCmds", gets)
	out.counter("SetTypeCmds", sets)
	master := info["role"] == "master"
	out.gauge("IsMaster", boolValue(master))
	if master {
		out.counter("ReplicationBytes", n("master_repl_offset"))
	} else if info["master_link_status"] == "up" {
		out.gauge("ReplicationLag", n("master_last_io_seconds_ago"))
	} else {
		out.gauge("ReplicationLag", n("master_link_down_since_seconds"))
	}
	out.gauge("EngineCPUUtilization", e.cpuUtilization(info, now))
}

// cpuUtilization is the main thread's CPU use (percent) since the last scrape, or since the engine started.
func (e *engineConn) cpuUtilization(info map[string]string, now time.Time) float64 {
	cpu := number(info["used_cpu_sys_main_thread"]) + number(info["used_cpu_user_main_thread"])
	if _, ok := info["used_cpu_sys_main_thread"]; !ok {
		cpu = number(info["used_cpu_sys"]) + number(info["used_cpu_user"])
	}
	var util float64
	if e.runID == info["run_id"] && !e.readAt.IsZero() && now.After(e.readAt) {
		util = 100 * (cpu - e.cpu) / now.Sub(e.readAt).Seconds()
	} else if up := number(info["uptime_in_seconds"]); up > 0 {
		util = 100 * cpu / up
	}
	e.runID, e.cpu, e.readAt = info["run_id"], cpu, now
	return max(0, min(100, util))
}
