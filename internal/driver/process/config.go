package process

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/ecache/ecache/internal/driver"
)

const (
	maxIDLen = 64
	// memcachedMaxConns is the connection limit requested from memcached (-c); it is lowered to the
	// open-file hard limit this host grants when that is smaller, because memcached refuses to start otherwise.
	memcachedMaxConns = 65000
)

// reservedDirectives are redis/valkey directives the driver manages itself; spec.Config may not set them.
var reservedDirectives = map[string]bool{
	"port":           true,
	"bind":           true,
	"protected-mode": true,
	"daemonize":      true,
	"dir":            true,
	"logfile":        true,
	"pidfile":        true,
	"maxmemory":      true,
	"tls-port":       true,
	"tls-cert-file":  true,
	"tls-key-file":   true,
	"user":           true,
	"requirepass":    true,
	"include":        true,
	"unixsocket":     true,
	"supervised":     true,
}

// ValidID reports whether id can name a node: 1-64 characters of [a-z0-9-], starting with a letter or digit.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen || id[0] == '-' {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validDirectiveName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validateSpec checks everything Ensure needs before it touches the disk.
func validateSpec(s driver.NodeSpec) error {
	var errs []error
	if !ValidID(s.ID) {
		errs = append(errs, fmt.Errorf("invalid id %q: want 1-%d characters of [a-z0-9-]", s.ID, maxIDLen))
	}
	if !s.Engine.Valid() {
		errs = append(errs, fmt.Errorf("unsupported engine %q", s.Engine))
	}
	if !filepath.IsAbs(s.Binary) {
		errs = append(errs, fmt.Errorf("binary %q is not an absolute path", s.Binary))
	} else if fi, err := os.Stat(s.Binary); err != nil {
		errs = append(errs, fmt.Errorf("binary: %w", err))
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		errs = append(errs, fmt.Errorf("binary %q is not an executable file", s.Binary))
	}
	if s.Port < 1 || s.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range 1-65535", s.Port))
	}
	if s.PlainPort != 0 && (s.TLS == nil || !s.Engine.RESP() || s.PlainPort < 1 || s.PlainPort > 65535 || s.PlainPort == s.Port) {
		errs = append(errs, fmt.Errorf("plain port %d needs TLS on another port of a valkey or redis engine", s.PlainPort))
	}
	for _, a := range s.Bind {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			errs = append(errs, fmt.Errorf("bind address %q is not a loopback address", a))
		}
	}
	if s.MaxMemoryBytes < 0 {
		errs = append(errs, fmt.Errorf("negative MaxMemoryBytes %d", s.MaxMemoryBytes))
	}
	if s.Threads < 0 {
		errs = append(errs, fmt.Errorf("negative Threads %d", s.Threads))
	}
	if s.Engine.RESP() {
		for _, k := range slices.Sorted(maps.Keys(s.Config)) {
			v := s.Config[k]
			switch {
			case !validDirectiveName(k):
				errs = append(errs, fmt.Errorf("config: invalid directive name %q", k))
			case reservedDirectives[strings.ToLower(k)]:
				errs = append(errs, fmt.Errorf("config: directive %q is managed by the driver", k))
			case strings.ContainsAny(v, "\r\n\x00"):
				errs = append(errs, fmt.Errorf("config: value of %q contains a newline or NUL", k))
			}
		}
		if strings.ContainsAny(s.Password+s.SecondPassword, "\r\n\x00") {
			errs = append(errs, errors.New("password contains a newline or NUL"))
		}
		if err := validACL(s.ACL); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// configFileName is the generated config file of a redis/valkey node, or the argument record of a memcached node.
func configFileName(e driver.Engine) string {
	switch e {
	case driver.EngineValkey:
		return "valkey.conf"
	case driver.EngineRedis:
		return "redis.conf"
	case driver.EngineTxlog:
		return "txlog.args"
	default:
		return "memcached.args"
	}
}

// bindAddrs are the addresses the engine of s listens on.
func bindAddrs(s driver.NodeSpec) []string {
	if len(s.Bind) == 0 {
		return []string{"127.0.0.1"}
	}
	return s.Bind
}

// quote renders s as a double-quoted redis config argument.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// respConfig renders the redis/valkey config file of a node living in dir, whose cluster bus is at bus when
// that is not empty (see busDirectives).
func respConfig(s driver.NodeSpec, dir, bus string) []byte {
	var b strings.Builder
	b.WriteString("# Generated by ecache; rewritten on every start.\n")
	if s.TLS != nil {
		fmt.Fprintf(&b, "port %d\ntls-port %d\n", s.PlainPort, s.Port)
		fmt.Fprintf(&b, "tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n", quote(s.TLS.CertFile), quote(s.TLS.KeyFile), quote(s.TLS.CAFile))
		// A node that takes plain connections too replicates in plain: its primary may not take TLS yet (a
		// group moving to in-transit encryption), and takes plain connections as long as this node does.
		fmt.Fprintf(&b, "tls-auth-clients no\ntls-replication %s\n", map[bool]string{true: "yes", false: "no"}[s.PlainPort == 0])
	} else {
		fmt.Fprintf(&b, "port %d\n", s.Port)
	}
	listen := bindAddrs(s)
	if bus != "" {
		listen = append(slices.Clone(listen), bus)
	}
	fmt.Fprintf(&b, "bind %s\n", strings.Join(listen, " "))
	b.WriteString("protected-mode no\n")
	b.WriteString("daemonize no\n")
	fmt.Fprintf(&b, "dir %s\n", quote(dir))
	fmt.Fprintf(&b, "logfile %s\n", quote(filepath.Join(dir, logFileName)))
	fmt.Fprintf(&b, "pidfile %s\n", quote(filepath.Join(dir, string(s.Engine)+".pid")))
	fmt.Fprintf(&b, "maxmemory %d\n", s.MaxMemoryBytes)
	b.WriteString("save \"\"\n")
	b.WriteString("appendonly no\n")
	config := s.Config
	if bus != "" {
		config = maps.Clone(config)
		maps.Copy(config, busDirectives(s, bus))
	}
	for _, k := range slices.Sorted(maps.Keys(config)) {
		v := config[k]
		if v == "" {
			v = `""`
		}
		fmt.Fprintf(&b, "%s %s\n", k, v)
	}
	if s.Password != "" {
		// Replicas authenticate to their primary with the same token: cluster mode engines follow a new
		// primary on their own after a failover, so every node carries it from the start.
		fmt.Fprintf(&b, "masteruser default\nmasterauth %s\n", quote(s.Password))
	}
	if a := s.ACL; a != nil {
		// ecache's own user first: replicas authenticate as it to their primary.
		fmt.Fprintf(&b, "masteruser %s\nmasterauth %s\n", quote(a.ControlUser), quote(a.ControlPassword))
		fmt.Fprintf(&b, "user %s\n", strings.Join(quoteAll(controlRules(a)), " "))
		for _, u := range a.Users {
			fmt.Fprintf(&b, "user %s\n", strings.Join(quoteAll(slices.Concat([]string{u.Name, "reset"}, u.Rules)), " "))
		}
	}
	switch {
	case s.Password != "" && s.SecondPassword != "":
		// Both AUTH tokens are valid while one is rotated.
		fmt.Fprintf(&b, "user default on %s %s ~* &* +@all\n", quote(">"+s.Password), quote(">"+s.SecondPassword))
	case s.Password != "":
		fmt.Fprintf(&b, "requirepass %s\n", quote(s.Password))
	}
	return []byte(b.String())
}

// memcachedArgs returns memcached's command-line arguments for s.
func memcachedArgs(s driver.NodeSpec) []string {
	args := []string{"-p", strconv.Itoa(s.Port), "-U", "0", "-l", strings.Join(bindAddrs(s), ",")}
	if s.MaxMemoryBytes > 0 {
		args = append(args, "-m", strconv.FormatInt(max(1, s.MaxMemoryBytes>>20), 10))
	}
	if s.Threads > 0 {
		args = append(args, "-t", strconv.Itoa(s.Threads))
	}
	args = append(args, "-c", strconv.Itoa(memcachedConns()))
	args = append(args, s.Args...)
	if s.TLS != nil {
		args = append(args, "-Z", "-o", "ssl_chain_cert="+s.TLS.CertFile+",ssl_key="+s.TLS.KeyFile)
	}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root unless told which user to run as.
		args = append(args, "-u", "root")
	}
	return args
}

// memcachedConns is memcachedMaxConns capped at the open-file hard limit (memcached sets both limits to -c).
func memcachedConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Max >= memcachedMaxConns {
		return memcachedMaxConns
	}
	return int(max(rl.Max, 64))
}

// commandLine returns the engine's arguments and the contents of its config/argument file; bus is the
// address of a cluster bus of its own (respConfig).
func commandLine(s driver.NodeSpec, dir, bus string) (args []string, file []byte) {
	switch {
	case s.Engine.RESP():
		return []string{filepath.Join(dir, configFileName(s.Engine))}, respConfig(s, dir, bus)
	case s.Engine == driver.EngineTxlog:
		args = append([]string{"txlog-replica", "--dir", filepath.Join(dir, "txlog")}, s.Args...)
	default:
		args = memcachedArgs(s)
	}
	return args, []byte(strings.Join(args, "\n") + "\n")
}

// controlRules are the name and rules of ecache's own engine user: every permission, one password.
func controlRules(a *driver.ACL) []string {
	sum := sha256.Sum256([]byte(a.ControlPassword))
	return []string{a.ControlUser, "reset", "on", "#" + hex.EncodeToString(sum[:]), "~*", "&*", "+@all"}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

// validACL refuses ACL users whose names or rules would not stay one word of one config line.
func validACL(a *driver.ACL) error {
	if a == nil {
		return nil
	}
	if a.ControlUser == "" || a.ControlPassword == "" || strings.ContainsAny(a.ControlUser+a.ControlPassword, " \r\n\x00") {
		return errors.New("acl: the control user needs a name and a password without spaces or newlines")
	}
	for _, u := range a.Users {
		if u.Name == "" || u.Name == a.ControlUser || strings.ContainsAny(u.Name, " \r\n\x00") {
			return fmt.Errorf("acl: invalid user name %q", u.Name)
		}
		for _, r := range u.Rules {
			if r == "" || strings.ContainsAny(r, "\r\n\x00") {
				return fmt.Errorf("acl: user %s: invalid rule %q", u.Name, r)
			}
		}
	}
	return nil
}
