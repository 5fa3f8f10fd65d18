package engine

import (
	"fmt"
	"slices"
	"strings"
)

// Parameter data types and change types, spelled as the API spells them.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeBoolean = "boolean" // Memcached switches, allowed values "0,1"
	TypeFloat   = "float"   // chunk_size_growth_factor

	ChangeImmediate      = "immediate"
	ChangeRequiresReboot = "requires-reboot"

	SourceSystem = "system"
)

// Param is one parameter of a parameter group family with its default, in
// the shape of a DescribeEngineDefaultParameters entry, plus how the value
// reaches the engine.
type Param struct {
	ParameterName  string
	ParameterValue string // default; may be empty (notify-keyspace-events)
	Description    string
	Source         string // "system"
	DataType       string // string, integer, boolean, float
	// AllowedValues uses the API's notation: an enumeration ("yes,no"),
	// ranges ("1-65000", "0-" open ended, "-" any integer) or a mix
	// ("0,20-", "-5,-4,-3,-2,-1,1-"). Empty means any value of DataType.
	AllowedValues        string
	IsModifiable         bool
	MinimumEngineVersion string
	ChangeType           string // immediate, requires-reboot
	// EngineDirective is the redis.conf directive or memcached flag that
	// carries the value ("maxmemory-policy", "-c", "-o hash_algorithm"). It
	// is empty for settings that exist only in ElastiCache's control plane
	// (reserved-memory-percent, close-on-replica-write, config_max …) or that
	// the engines on this host do not know. See RedisSettings and
	// MemcachedArgs for the translation.
	EngineDirective string
}

// NodeTypeValue is the default of a node-type-specific parameter for one
// node type.
type NodeTypeValue struct {
	CacheNodeType string
	Value         string
}

// NodeTypeParam is a parameter whose default depends on the node type
// (maxmemory, max_cache_memory, num_threads …), in the shape of a
// CacheNodeTypeSpecificParameter.
type NodeTypeParam struct {
	ParameterName        string
	Description          string
	Source               string
	DataType             string
	AllowedValues        string
	IsModifiable         bool
	MinimumEngineVersion string
	ChangeType           string
	EngineDirective      string
	Values               []NodeTypeValue // sorted by node type name
}

// Value returns the default for one node type.
func (p NodeTypeParam) Value(nodeType string) (string, bool) {
	for _, v := range p.Values {
		if v.CacheNodeType == nodeType {
			return v.Value, true
		}
	}
	return "", false
}

// Parameters returns the engine default parameters of a family, sorted by
// name, as DescribeEngineDefaultParameters lists them (cluster-enabled is
// "no"). The slice is a copy.
func Parameters(family string) ([]Param, bool) {
	ps, ok := catalogs[family]
	if !ok {
		return nil, false
	}
	return slices.Clone(ps), true
}

// ParametersForGroup returns the parameters of a family's default group:
// with clusterMode, those of the ".cluster.on" group (cluster-enabled
// "yes"). It fails for an unknown family or, with clusterMode, for a family
// without a cluster-mode group.
func ParametersForGroup(family string, clusterMode bool) ([]Param, bool) {
	ps, ok := Parameters(family)
	if !ok {
		return nil, false
	}
	if !clusterMode {
		return ps, true
	}
	f, _ := LookupFamily(family)
	if !f.HasClusterModeGroup() {
		return nil, false
	}
	for i := range ps {
		if ps[i].ParameterName == "cluster-enabled" {
			ps[i].ParameterValue = "yes"
		}
	}
	return ps, true
}

// LookupParameter returns one parameter of a family.
func LookupParameter(family, name string) (Param, bool) {
	ps := catalogs[family]
	i, ok := slices.BinarySearchFunc(ps, name, func(p Param, n string) int { return strings.Compare(p.ParameterName, n) })
	if !ok {
		return Param{}, false
	}
	return ps[i], true
}

// NodeTypeSpecificParameters returns the node-type-specific parameters of a
// family: maxmemory and the replica output buffer limits for Valkey and
// Redis OSS, max_cache_memory and num_threads for Memcached. Nil for an
// unknown family.
func NodeTypeSpecificParameters(family string) []NodeTypeParam {
	f, ok := LookupFamily(family)
	if !ok {
		return nil
	}
	if f.Engine == EngineMemcached {
		return memcachedNodeTypeParams(f)
	}
	return redisNodeTypeParams(f)
}

// catalogs holds every family's parameters, sorted by name.
var catalogs = buildCatalogs()

func buildCatalogs() map[string][]Param {
	builders := map[string]func() []Param{
		"redis2.6":     redis26,
		"redis2.8":     redis28,
		"redis3.2":     redis32,
		"redis4.0":     redis40,
		"redis5.0":     redis50,
		"redis6.x":     redis6x,
		"redis7":       redis7,
		"valkey7":      valkey7,
		"valkey8":      valkey8,
		"valkey9":      valkey9,
		"memcached1.4": memcached14,
		"memcached1.5": memcached15,
		"memcached1.6": memcached16,
	}
	out := make(map[string][]Param, len(builders))
	for _, f := range families {
		build, ok := builders[f.Name]
		if !ok {
			panic("engine: no parameter catalog for family " + f.Name)
		}
		out[f.Name] = finish(f, build())
	}
	return out
}

// finish fills in the family's base version and the source, sorts by name
// and rejects duplicates.
func finish(f FamilyInfo, ps []Param) []Param {
	ps = slices.Clone(ps)
	for i := range ps {
		if ps[i].MinimumEngineVersion == "" {
			ps[i].MinimumEngineVersion = f.BaseVersion
		}
		ps[i].Source = SourceSystem
	}
	slices.SortFunc(ps, func(a, b Param) int { return strings.Compare(a.ParameterName, b.ParameterName) })
	for i := 1; i < len(ps); i++ {
		if ps[i].ParameterName == ps[i-1].ParameterName {
			panic(fmt.Sprintf("engine: duplicate parameter %s in %s", ps[i].ParameterName, f.Name))
		}
	}
	return ps
}

// Constructors and edits used by the catalog files.

func param(name, value, dataType, allowed, directive, desc string) Param {
	return Param{
		ParameterName: name, ParameterValue: value, DataType: dataType, AllowedValues: allowed,
		EngineDirective: directive, Description: desc,
		IsModifiable: true, ChangeType: ChangeImmediate,
	}
}

func intParam(name, value, allowed, directive, desc string) Param {
	return param(name, value, TypeInteger, allowed, directive, desc)
}

func strParam(name, value, allowed, directive, desc string) Param {
	return param(name, value, TypeString, allowed, directive, desc)
}

func yesNo(name, value, directive, desc string) Param {
	return param(name, value, TypeString, "yes,no", directive, desc)
}

func fixed(p Param) Param  { p.IsModifiable = false; return p }
func reboot(p Param) Param { p.ChangeType = ChangeRequiresReboot; return p }
func since(v string, p Param) Param {
	p.MinimumEngineVersion = v
	return p
}

// inherit copies the previous family's parameters for a new family: their
// minimum version becomes the new family's base version.
func inherit(ps []Param) []Param {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i].MinimumEngineVersion = ""
	}
	return ps
}

func indexOf(ps []Param, name string) int {
	for i := range ps {
		if ps[i].ParameterName == name {
			return i
		}
	}
	panic("engine: catalog edit names missing parameter " + name)
}

func edit(ps []Param, name string, f func(*Param)) []Param {
	f(&ps[indexOf(ps, name)])
	return ps
}

func remove(ps []Param, names ...string) []Param {
	for _, n := range names {
		i := indexOf(ps, n)
		ps = slices.Delete(ps, i, i+1)
	}
	return ps
}

func rename(ps []Param, from, to string) []Param {
	ps[indexOf(ps, from)].ParameterName = to
	return ps
}
