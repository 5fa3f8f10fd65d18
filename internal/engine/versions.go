package engine

import (
	"slices"
	"strconv"
	"strings"
)

// Engine names as the ElastiCache API spells them.
const (
	EngineValkey    = "valkey"
	EngineRedis     = "redis"
	EngineMemcached = "memcached"
)

// Engines returns the engine names in catalog order.
func Engines() []string { return []string{EngineValkey, EngineRedis, EngineMemcached} }

// VersionInfo is one engine version as AWS documents it, in the shape of a
// DescribeCacheEngineVersions entry plus the default parameter groups.
type VersionInfo struct {
	Engine string
	// EngineVersion is the version as DescribeCacheEngineVersions lists it and
	// as users request it: "7.1", "6.2", "5.0.6", "1.6.22".
	EngineVersion string
	// PatchVersion is the full version the description names ("7.1.0" for
	// "7.1"); equal to EngineVersion for engines that list full versions.
	PatchVersion                  string
	Family                        string
	CacheEngineDescription        string // "Redis", "Valkey", "memcached"
	CacheEngineVersionDescription string // "redis version 7.0.7"
	DefaultParameterGroup         string // default.redis7
	// ClusterModeParameterGroup is the cluster-mode default group
	// (default.redis7.cluster.on); empty when the family has none.
	ClusterModeParameterGroup string
	// EndOfLife marks versions AWS no longer supports for node-based caches
	// (Redis OSS below 4.0.10).
	EndOfLife bool
}

// FamilyInfo describes one cache parameter group family.
type FamilyInfo struct {
	Name                      string // redis7
	Engine                    string
	DefaultParameterGroup     string // default.redis7
	ClusterModeParameterGroup string // default.redis7.cluster.on, or "" when none
	// BaseVersion is the lowest engine version of the family; it is the
	// MinimumEngineVersion of parameters that exist from the start.
	BaseVersion string
}

// HasClusterModeGroup reports whether the family has a cluster-mode default group.
func (f FamilyInfo) HasClusterModeGroup() bool { return f.ClusterModeParameterGroup != "" }

// families lists every parameter group family, newest first per engine.
// Families from redis3.2 on have a ".cluster.on" default group; redis2.x and
// Memcached do not.
var families = []FamilyInfo{
	familyInfo("valkey9", EngineValkey, true, "9.0.0"),
	familyInfo("valkey8", EngineValkey, true, "8.0.0"),
	familyInfo("valkey7", EngineValkey, true, "7.2.0"),
	familyInfo("redis7", EngineRedis, true, "7.0.0"),
	familyInfo("redis6.x", EngineRedis, true, "6.0.0"),
	familyInfo("redis5.0", EngineRedis, true, "5.0.0"),
	familyInfo("redis4.0", EngineRedis, true, "4.0.10"),
	familyInfo("redis3.2", EngineRedis, true, "3.2.4"),
	familyInfo("redis2.8", EngineRedis, false, "2.8.6"),
	familyInfo("redis2.6", EngineRedis, false, "2.6.13"),
	familyInfo("memcached1.6", EngineMemcached, false, "1.6.6"),
	familyInfo("memcached1.5", EngineMemcached, false, "1.5.10"),
	familyInfo("memcached1.4", EngineMemcached, false, "1.4.5"),
}

func familyInfo(name, engine string, cluster bool, base string) FamilyInfo {
	f := FamilyInfo{Name: name, Engine: engine, DefaultParameterGroup: "default." + name, BaseVersion: base}
	if cluster {
		f.ClusterModeParameterGroup = "default." + name + ".cluster.on"
	}
	return f
}

// Families returns the names of every parameter group family.
func Families() []string {
	out := make([]string, len(families))
	for i, f := range families {
		out[i] = f.Name
	}
	return out
}

// LookupFamily returns a family by name.
func LookupFamily(name string) (FamilyInfo, bool) {
	for _, f := range families {
		if f.Name == name {
			return f, true
		}
	}
	return FamilyInfo{}, false
}

// DefaultGroup is one of the default parameter groups every account has.
type DefaultGroup struct {
	Name        string
	Family      string
	ClusterMode bool
	Description string
}

// DefaultParameterGroups lists every default parameter group, with the
// descriptions seen in configurations that mirror AWS ("Default parameter
// group for redis7", "Customized default parameter group for redis7 with
// cluster mode on"); AWS's own wording for these is not documented.
func DefaultParameterGroups() []DefaultGroup {
	var out []DefaultGroup
	for _, f := range families {
		out = append(out, DefaultGroup{
			Name: f.DefaultParameterGroup, Family: f.Name,
			Description: "Default parameter group for " + f.Name,
		})
		if f.HasClusterModeGroup() {
			out = append(out, DefaultGroup{
				Name: f.ClusterModeParameterGroup, Family: f.Name, ClusterMode: true,
				Description: "Customized default parameter group for " + f.Name + " with cluster mode on",
			})
		}
	}
	return out
}

// versionRow: engine, version as listed, patch version named by the
// description ("" = same), description suffix, end of life.
type versionRow struct {
	engine, version, patch, suffix string
	eol                            bool
}

// The versions AWS documents for node-based caches ("Supported engines and
// versions" for Valkey/Redis OSS and Memcached; DescribeCacheEngineVersions
// examples for the older Redis OSS descriptions). Redis OSS from 6.0 and
// Valkey are listed as major.minor; the patch each description names is the
// one AWS launched (6.0.5, 6.2.6, 7.0.7, 7.1.0, Valkey 7.2.6, 8.0.1). For the
// later Valkey releases no patch is documented, so ".0" is used. The Valkey
// descriptions ("Valkey", "valkey version 8.0.1") follow the Redis OSS
// pattern; AWS's own strings for Valkey are not documented.
var versionRows = []versionRow{
	{EngineValkey, "7.2", "7.2.6", "", false},
	{EngineValkey, "8.0", "8.0.1", "", false},
	{EngineValkey, "8.1", "8.1.0", "", false},
	{EngineValkey, "8.2", "8.2.0", "", false},
	{EngineValkey, "9.0", "9.0.0", "", false},
	{EngineValkey, "9.1", "9.1.0", "", false},

	{EngineRedis, "2.6.13", "", "", true},
	{EngineRedis, "2.8.6", "", "", true},
	{EngineRedis, "2.8.19", "", "", true},
	{EngineRedis, "2.8.21", "", "", true},
	{EngineRedis, "2.8.22", "", " R5", true},
	{EngineRedis, "2.8.23", "", " R4", true},
	{EngineRedis, "2.8.24", "", " R3", true},
	{EngineRedis, "3.2.4", "", "", true},
	{EngineRedis, "3.2.6", "", "", true},
	{EngineRedis, "3.2.10", "", "", true},
	{EngineRedis, "4.0.10", "", "", false},
	{EngineRedis, "5.0.6", "", "", false},
	{EngineRedis, "6.0", "6.0.5", "", false},
	{EngineRedis, "6.2", "6.2.6", "", false},
	{EngineRedis, "7.0", "7.0.7", "", false},
	{EngineRedis, "7.1", "7.1.0", "", false},

	{EngineMemcached, "1.4.5", "", "", false},
	{EngineMemcached, "1.4.14", "", "", false},
	{EngineMemcached, "1.4.24", "", "", false},
	{EngineMemcached, "1.4.33", "", "", false},
	{EngineMemcached, "1.4.34", "", "", false},
	{EngineMemcached, "1.5.10", "", "", false},
	{EngineMemcached, "1.5.16", "", "", false},
	{EngineMemcached, "1.6.6", "", "", false},
	{EngineMemcached, "1.6.12", "", "", false},
	{EngineMemcached, "1.6.17", "", "", false},
	{EngineMemcached, "1.6.22", "", "", false},
}

var engineDescriptions = map[string]string{
	EngineValkey:    "Valkey",
	EngineRedis:     "Redis",
	EngineMemcached: "memcached",
}

var versionCatalog = func() []VersionInfo {
	out := make([]VersionInfo, 0, len(versionRows))
	for _, r := range versionRows {
		patch := r.patch
		if patch == "" {
			patch = r.version
		}
		fam := Family(r.engine, r.version)
		fi, _ := LookupFamily(fam)
		out = append(out, VersionInfo{
			Engine:                        r.engine,
			EngineVersion:                 r.version,
			PatchVersion:                  patch,
			Family:                        fam,
			CacheEngineDescription:        engineDescriptions[r.engine],
			CacheEngineVersionDescription: r.engine + " version " + patch + r.suffix,
			DefaultParameterGroup:         fi.DefaultParameterGroup,
			ClusterModeParameterGroup:     fi.ClusterModeParameterGroup,
			EndOfLife:                     r.eol,
		})
	}
	return out
}()

// EngineVersions returns the documented versions of an engine, oldest first;
// nil for an unknown engine.
func EngineVersions(engine string) []VersionInfo {
	var out []VersionInfo
	for _, v := range versionCatalog {
		if v.Engine == engine {
			out = append(out, v)
		}
	}
	return out
}

// LookupVersion finds a documented version by its listed form ("7.1") or the
// patch version its description names ("7.1.0").
func LookupVersion(engine, version string) (VersionInfo, bool) {
	for _, v := range versionCatalog {
		if v.Engine == engine && (v.EngineVersion == version || v.PatchVersion == version) {
			return v, true
		}
	}
	return VersionInfo{}, false
}

// Family returns the parameter group family of an engine version, or "" when
// none applies. Any version form works: "7.0", "7.0.15", "7", "6.x", "1.6.22".
func Family(engine, version string) string {
	major, minor, ok := majorMinor(version)
	if !ok {
		return ""
	}
	var fam string
	switch engine {
	case EngineValkey:
		fam = "valkey" + strconv.Itoa(major)
	case EngineRedis:
		switch {
		case major >= 6:
			fam = "redis" + strconv.Itoa(major)
			if major == 6 {
				fam = "redis6.x"
			}
		case major == 2 || major == 3:
			if minor < 0 {
				return ""
			}
			fam = "redis" + strconv.Itoa(major) + "." + strconv.Itoa(minor)
		default:
			fam = "redis" + strconv.Itoa(major) + ".0"
		}
	case EngineMemcached:
		if minor < 0 {
			return ""
		}
		fam = "memcached" + strconv.Itoa(major) + "." + strconv.Itoa(minor)
	default:
		return ""
	}
	if f, ok := LookupFamily(fam); !ok || f.Engine != engine {
		return ""
	}
	return fam
}

// DefaultParameterGroup returns the default parameter group for an engine
// version: default.redis7, default.redis7.cluster.on, default.memcached1.6 …
// It returns "" when the version has no family or when cluster mode is asked
// for a family without a cluster-mode default group.
func DefaultParameterGroup(engine, version string, clusterMode bool) string {
	f, ok := LookupFamily(Family(engine, version))
	if !ok {
		return ""
	}
	if clusterMode {
		return f.ClusterModeParameterGroup
	}
	return f.DefaultParameterGroup
}

// CompareVersions compares dotted versions numerically and returns -1, 0 or
// +1. Missing components count as 0 ("7.1" == "7.1.0"); a non-numeric
// component such as the "x" of "6.x" matches anything and ends the
// comparison. Use it for upgrade-only checks.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		x, y := "0", "0"
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		nx, errx := strconv.Atoi(x)
		ny, erry := strconv.Atoi(y)
		if errx != nil || erry != nil {
			return 0
		}
		if nx != ny {
			if nx < ny {
				return -1
			}
			return 1
		}
	}
	return 0
}

// majorMinor parses "7.0.15" → 7, 0; "7" or "7.x" → 7, -1.
func majorMinor(v string) (major, minor int, ok bool) {
	parts := strings.Split(v, ".")
	major, err := strconv.Atoi(parts[0])
	if err != nil || major < 0 {
		return 0, 0, false
	}
	minor = -1
	if len(parts) > 1 {
		if n, err := strconv.Atoi(parts[1]); err == nil && n >= 0 {
			minor = n
		}
	}
	return major, minor, true
}

// sortVersions sorts VersionInfos oldest first.
func sortVersions(vs []VersionInfo) {
	slices.SortStableFunc(vs, func(a, b VersionInfo) int {
		return CompareVersions(a.PatchVersion, b.PatchVersion)
	})
}
