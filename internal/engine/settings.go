package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// NodeConfig is what the process driver knows about one node when it turns
// a parameter group into engine settings.
type NodeConfig struct {
	Family   string // parameter group family of the node's group
	NodeType string // cache.t3.micro
	// EngineVersion is the version of the binary that runs the node
	// (7.0.15). Parameters whose MinimumEngineVersion is newer are left out,
	// since the binary does not know them. Empty keeps every parameter.
	EngineVersion string
	// Values holds the group's parameter values by name; parameters not in
	// it take the family default. Values are checked with
	// CheckParameterValue. Node-type-specific names (maxmemory …) are
	// ignored: they are not modifiable.
	Values map[string]string
	// MaxConnections, when positive, caps maxclients (Valkey, Redis OSS) and
	// -c (Memcached), for hosts whose open-file limit is below the
	// ElastiCache defaults (memcached refuses to start above it).
	MaxConnections int
}

// Setting is one engine setting: a redis.conf directive with its
// arguments, or a memcached flag with its argument (Args empty for a switch).
type Setting struct {
	Directive string
	Args      []string
}

// ConfLine renders the setting as a redis.conf line, quoting empty
// arguments and arguments with spaces or quotes.
func (s Setting) ConfLine() string {
	var b strings.Builder
	b.WriteString(s.Directive)
	for _, a := range s.Args {
		b.WriteByte(' ')
		if a == "" || strings.ContainsAny(a, " \t\"'\\") {
			b.WriteString(strconv.Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}

// values resolves a node's parameter values against its family catalog.
type values struct {
	params  []Param
	nodeTPs []NodeTypeParam
	given   map[string]string
	node    NodeTypeInfo
}

func resolveValues(c NodeConfig, engines ...string) (FamilyInfo, values, error) {
	f, ok := LookupFamily(c.Family)
	if !ok {
		return f, values{}, fmt.Errorf("unknown parameter group family %q", c.Family)
	}
	if !slices.Contains(engines, f.Engine) {
		return f, values{}, fmt.Errorf("family %s is not a %s family", f.Name, strings.Join(engines, " or "))
	}
	n, ok := NodeType(c.NodeType)
	if !ok {
		return f, values{}, fmt.Errorf("unknown node type %q", c.NodeType)
	}
	v := values{params: catalogs[f.Name], nodeTPs: NodeTypeSpecificParameters(f.Name), given: c.Values, node: n}
	for name, val := range c.Values {
		p, ok := LookupParameter(f.Name, name)
		if !ok {
			if slices.ContainsFunc(v.nodeTPs, func(p NodeTypeParam) bool { return p.ParameterName == name }) {
				continue
			}
			return f, values{}, fmt.Errorf("parameter %s does not exist in family %s", name, f.Name)
		}
		if err := CheckParameterValue(p, val); err != nil {
			return f, values{}, err
		}
	}
	return f, v, nil
}

// get returns a parameter's value: the given one, the family default, or
// the node-type-specific default.
func (v values) get(name string) (string, bool) {
	for _, p := range v.nodeTPs {
		if p.ParameterName == name {
			return p.Value(v.node.Name)
		}
	}
	if s, ok := v.given[name]; ok {
		return s, true
	}
	i, ok := slices.BinarySearchFunc(v.params, name, func(p Param, n string) int { return strings.Compare(p.ParameterName, n) })
	if !ok {
		return "", false
	}
	return v.params[i].ParameterValue, true
}

func (v values) getInt(name string) (int64, bool) {
	s, ok := v.get(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func newerThanBinary(p Param, engineVersion string) bool {
	return engineVersion != "" && CompareVersions(engineVersion, p.MinimumEngineVersion) < 0
}

// RedisSettings turns a Valkey or Redis OSS node's parameter values into
// redis.conf settings: maxmemory first (the node type's maxmemory less
// reserved-memory-percent, or less reserved-memory when the percent is 0),
// then every parameter with an EngineDirective in name order. The
// client-output-buffer-limit-* parameters become one
// "client-output-buffer-limit <class> <hard> <soft> <seconds>" line per
// class, rename-commands one "rename-command" line per pair, and maxclients
// is capped by MaxConnections. Network, persistence-file and cluster-file
// settings are the driver's own.
func RedisSettings(c NodeConfig) ([]Setting, error) {
	_, v, err := resolveValues(c, EngineRedis, EngineValkey)
	if err != nil {
		return nil, err
	}
	out := []Setting{{Directive: "maxmemory", Args: []string{strconv.FormatInt(redisMaxMemory(v), 10)}}}
	for _, p := range v.params {
		if p.EngineDirective == "" || p.EngineDirective == dirOutputBuffer || newerThanBinary(p, c.EngineVersion) {
			continue
		}
		val, _ := v.get(p.ParameterName)
		switch p.ParameterName {
		case "rename-commands":
			f := strings.Fields(val)
			for i := 0; i+1 < len(f); i += 2 {
				out = append(out, Setting{Directive: p.EngineDirective, Args: []string{f[i], f[i+1]}})
			}
			continue
		case "maxclients":
			if n, err := strconv.Atoi(val); err == nil && c.MaxConnections > 0 && n > c.MaxConnections {
				val = strconv.Itoa(c.MaxConnections)
			}
		}
		out = append(out, Setting{Directive: p.EngineDirective, Args: []string{val}})
	}
	for _, class := range []struct{ conf, param string }{
		{"normal", "normal"}, {"pubsub", "pubsub"}, {"slave", "replica"}, {"slave", "slave"},
	} {
		prefix := "client-output-buffer-limit-" + class.param + "-"
		hard, ok1 := v.get(prefix + "hard-limit")
		soft, ok2 := v.get(prefix + "soft-limit")
		secs, ok3 := v.get(prefix + "soft-seconds")
		if ok1 && ok2 && ok3 {
			out = append(out, Setting{Directive: dirOutputBuffer, Args: []string{class.conf, hard, soft, secs}})
		}
	}
	return out, nil
}

func redisMaxMemory(v values) int64 {
	if pct, ok := v.getInt("reserved-memory-percent"); ok && pct > 0 {
		return v.node.EngineMaxMemory(int(pct))
	}
	reserved, _ := v.getInt("reserved-memory")
	return max(v.node.MaxMemoryBytes-reserved, 0)
}

// memcachedNegations are the extended options memcached turns off with a
// "no_" prefix; the other switches are simply left out when 0.
var memcachedNegations = map[string]bool{
	"lru_crawler": true, "lru_maintainer": true, "maxconns_fast": true, "slab_reassign": true,
}

// slabChunkMax is the slab_chunk_max a node gets: the group's value, except that the default gives way to
// a smaller max_item_size, which memcached requires to be a multiple of it (a group that sets both
// incompatibly is left to the engine to refuse).
func slabChunkMax(v values, val string) string {
	chunk, _ := strconv.ParseInt(val, 10, 64)
	item, ok := v.getInt("max_item_size")
	if _, set := v.given["slab_chunk_max"]; set || !ok || item >= chunk || chunk <= 0 {
		return val
	}
	for item%chunk != 0 { // chunk is a power of two: halve it down to the largest one item is a multiple of
		chunk /= 2
	}
	return strconv.FormatInt(chunk, 10)
}

// logbufFallsThrough reports whether memcached binary version v mistakes -o worker_logbuf_size for
// slab_sizes as well (seen in 1.6.18; the bounds test finds it in any other).
func logbufFallsThrough(v string) bool {
	return v == "" || CompareVersions(v, "1.6.18") <= 0
}

// MemcachedArgs turns a Memcached node's parameter values into memcached
// command-line arguments: -m (max_cache_memory less
// memcached_connections_overhead, in MiB), -t (num_threads), then each
// parameter's flag, and one -o list with no_modern or modern first so that
// the explicit options after it win. slab_chunk_max is in bytes, as
// memcached parses it (its help says KiB). Listening, user and logging
// flags are the driver's own.
func MemcachedArgs(c NodeConfig) ([]string, error) {
	_, v, err := resolveValues(c, EngineMemcached)
	if err != nil {
		return nil, err
	}
	overhead, _ := v.getInt("memcached_connections_overhead")
	itemMB := memcachedItemMB(v.node, overhead)
	if itemMB <= 0 {
		return nil, fmt.Errorf("node type %s leaves no Memcached item memory (max_cache_memory %d MiB, overhead %d MiB)",
			v.node.Name, v.node.MemcachedMB, overhead)
	}
	args := []string{"-m", strconv.FormatInt(itemMB, 10)}
	if t, ok := v.get("num_threads"); ok {
		args = append(args, "-t", t)
	}
	var lead, opts []string
	for _, p := range v.params {
		if p.EngineDirective == "" || newerThanBinary(p, c.EngineVersion) {
			continue
		}
		val, _ := v.get(p.ParameterName)
		if opt, ok := strings.CutPrefix(p.EngineDirective, "-o "); ok {
			switch {
			case opt == "modern" || opt == "no_modern":
				if val == "1" {
					lead = append(lead, opt)
				}
			case p.DataType == TypeBoolean && val == "1":
				opts = append(opts, opt)
			case p.DataType == TypeBoolean:
				if memcachedNegations[opt] {
					opts = append(opts, "no_"+opt)
				}
			case opt == "slab_chunk_max":
				opts = append(opts, opt+"="+slabChunkMax(v, val))
			case opt == "worker_logbuf_size" && logbufFallsThrough(c.EngineVersion):
				// This memcached parses the option and then also takes its value as slab_sizes (a missing
				// break), which would replace the growth-factor slab classes; it keeps its default 64 KiB.
			default:
				opts = append(opts, opt+"="+val)
			}
			continue
		}
		switch {
		case p.ParameterName == "watch":
			if val == "0" {
				args = append(args, p.EngineDirective)
			}
		case p.DataType == TypeBoolean:
			if val == "1" {
				args = append(args, p.EngineDirective)
			}
		case p.ParameterName == "max_simultaneous_connections":
			if n, err := strconv.Atoi(val); err == nil && c.MaxConnections > 0 && n > c.MaxConnections {
				val = strconv.Itoa(c.MaxConnections)
			}
			args = append(args, p.EngineDirective, val)
		default:
			args = append(args, p.EngineDirective, val)
		}
	}
	if all := append(lead, opts...); len(all) > 0 {
		args = append(args, "-o", strings.Join(all, ","))
	}
	return args, nil
}
