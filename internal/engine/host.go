package engine

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Host.Resolve. Callers map both to InvalidParameterValue.
var (
	ErrUnsupportedVersion = errors.New("unsupported engine version")
	ErrUnknownEngine      = errors.New("unknown engine")
)

// VersionError explains why a requested engine version cannot be used. It
// matches ErrUnsupportedVersion with errors.Is, and ErrUnknownEngine too when
// the engine itself is unknown.
type VersionError struct {
	Engine    string
	Requested string
	Reason    string
	unknown   bool
}

func (e *VersionError) Error() string {
	if e.unknown {
		return fmt.Sprintf("engine %q is not supported", e.Engine)
	}
	return fmt.Sprintf("cannot use %s version %q: %s", e.Engine, e.Requested, e.Reason)
}

// Is reports whether target is ErrUnsupportedVersion (or ErrUnknownEngine
// for an unknown engine).
func (e *VersionError) Is(target error) bool {
	return target == ErrUnsupportedVersion || (e.unknown && target == ErrUnknownEngine)
}

// Binary is an engine binary installed on the host.
type Binary struct {
	Engine  string // valkey, redis, memcached
	Path    string // /usr/bin/redis-server
	Version string // the binary's own version: 7.0.15
}

// Host is what this machine can run: at most one binary per engine.
// The zero Host runs nothing.
type Host struct {
	bins map[string]Binary
}

// NewHost builds a Host from known binaries (a later binary of the same
// engine replaces an earlier one).
func NewHost(bins ...Binary) Host {
	h := Host{bins: make(map[string]Binary, len(bins))}
	for _, b := range bins {
		h.bins[b.Engine] = b
	}
	return h
}

// Binary returns the binary installed for an engine.
func (h Host) Binary(engine string) (Binary, bool) {
	b, ok := h.bins[engine]
	return b, ok
}

// Binaries returns the installed binaries in engine catalog order.
func (h Host) Binaries() []Binary {
	var out []Binary
	for _, e := range Engines() {
		if b, ok := h.bins[e]; ok {
			out = append(out, b)
		}
	}
	return out
}

// probe says how to find one engine's binary and read its version.
type probe struct {
	engine string
	name   string
	args   []string
	prefix string // text before the version in the output
}

var probes = []probe{
	{EngineValkey, "valkey-server", []string{"--version"}, "Valkey server v="},
	{EngineRedis, "redis-server", []string{"--version"}, "Redis server v="},
	{EngineMemcached, "memcached", []string{"-V"}, "memcached "},
}

// DetectHost finds valkey-server, redis-server and memcached with lookPath
// and reads their versions by running them with run ("redis-server
// --version" prints "Redis server v=7.0.15 ...", "valkey-server --version"
// prints "Valkey server v=8.0.1 ...", "memcached -V" prints "memcached
// 1.6.18"). A binary that is missing, fails, or reports another engine (a
// redis-server that is really Valkey) is left out.
func DetectHost(lookPath func(string) (string, error), run func(bin string, args ...string) ([]byte, error)) Host {
	h := Host{bins: map[string]Binary{}}
	for _, p := range probes {
		path, err := lookPath(p.name)
		if err != nil || path == "" {
			continue
		}
		out, err := run(path, p.args...)
		if err != nil {
			continue
		}
		v, ok := parseBinaryVersion(string(out), p.prefix)
		if !ok {
			continue
		}
		h.bins[p.engine] = Binary{Engine: p.engine, Path: path, Version: v}
	}
	return h
}

// DefaultHost detects the engines installed on this machine via PATH.
func DefaultHost() Host {
	return DetectHost(exec.LookPath, func(bin string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, bin, args...).Output()
	})
}

// parseBinaryVersion finds prefix at the start of a line and returns the
// dotted version that follows it.
func parseBinaryVersion(out, prefix string) (string, bool) {
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, " ")
		if validDotted(v) {
			return v, true
		}
	}
	return "", false
}

func validDotted(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// Version is a documented AWS engine version this host can run, with the
// binary that runs it.
type Version struct {
	VersionInfo
	Binary        string // path of the binary that runs this version
	BinaryVersion string // the binary's real version (7.0.15)
	// Exact is false when the binary's major.minor differs from the
	// requested version's (7.1 served by 7.0.15); callers then say so in an
	// event and a log line.
	Exact bool
}

// Versions returns the documented versions of engine this host can honestly
// run, oldest first: those whose major version (major.minor for Memcached)
// matches the installed binary. redis-server 7.0.15 offers redis 7.0 and
// 7.1; valkey-server 8.0.1 offers valkey 8.0, 8.1 and 8.2; memcached 1.6.18
// offers the memcached 1.6.x versions. End-of-life versions are never offered.
func (h Host) Versions(engine string) []Version {
	bin, ok := h.bins[engine]
	if !ok {
		return nil
	}
	bmaj, bmin, ok := majorMinor(bin.Version)
	if !ok {
		return nil
	}
	docs := EngineVersions(engine)
	sortVersions(docs)
	var out []Version
	for _, v := range docs {
		if v.EndOfLife {
			continue
		}
		vmaj, vmin, ok := majorMinor(v.EngineVersion)
		if !ok || vmaj != bmaj || (engine == EngineMemcached && vmin != bmin) {
			continue
		}
		out = append(out, Version{
			VersionInfo:   v,
			Binary:        bin.Path,
			BinaryVersion: bin.Version,
			Exact:         vmin == bmin,
		})
	}
	return out
}

// Resolve picks the version to run for a requested EngineVersion:
//   - "" → the newest version offered for the engine;
//   - a documented version ("7.1", its patch form "7.1.0", "1.6.22");
//   - a major or major.minor prefix, optionally ending in ".x" ("7", "6.x",
//     "1.6.x"), which AWS accepts → the newest offered version under it.
//
// Unknown versions and versions this host cannot run give a *VersionError
// that matches ErrUnsupportedVersion.
func (h Host) Resolve(engine, requested string) (Version, error) {
	if _, ok := engineDescriptions[engine]; !ok {
		return Version{}, &VersionError{Engine: engine, Requested: requested, unknown: true}
	}
	requested = strings.TrimSpace(requested)
	offered := h.Versions(engine)
	fail := func(reason string) (Version, error) {
		return Version{}, &VersionError{Engine: engine, Requested: requested, Reason: reason}
	}
	notRunnable := func() (Version, error) {
		if b, ok := h.bins[engine]; ok {
			return fail(fmt.Sprintf("this host runs %s %s (%s), which cannot serve it", engine, b.Version, b.Path))
		}
		return fail("no " + engine + " binary is installed on this host")
	}

	if requested == "" {
		if len(offered) == 0 {
			return notRunnable()
		}
		return offered[len(offered)-1], nil
	}
	if v, ok := LookupVersion(engine, requested); ok {
		for _, o := range offered {
			if o.EngineVersion == v.EngineVersion {
				return o, nil
			}
		}
		if v.EndOfLife {
			return fail("the version has reached end of life")
		}
		return notRunnable()
	}

	prefix := strings.TrimSuffix(strings.TrimSuffix(requested, ".x"), ".X")
	if !allNumeric(prefix) {
		return fail("not a known engine version")
	}
	var documented bool
	var best *Version
	for _, v := range EngineVersions(engine) {
		if !hasVersionPrefix(v.EngineVersion, prefix) {
			continue
		}
		documented = true
		for i := range offered {
			if offered[i].EngineVersion == v.EngineVersion && (best == nil || CompareVersions(offered[i].PatchVersion, best.PatchVersion) > 0) {
				best = &offered[i]
			}
		}
	}
	switch {
	case best != nil:
		return *best, nil
	case documented:
		return notRunnable()
	default:
		return fail("not a known engine version")
	}
}

// hasVersionPrefix reports whether v starts with the whole dotted
// components of prefix ("7.1" has prefix "7"; "7.10" does not have "7.1").
func hasVersionPrefix(v, prefix string) bool {
	pv, pp := strings.Split(v, "."), strings.Split(prefix, ".")
	return len(pp) <= len(pv) && slices.Equal(pv[:len(pp)], pp)
}

func allNumeric(v string) bool {
	if v == "" {
		return false
	}
	for p := range strings.SplitSeq(v, ".") {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}
