// Package driver defines how ecache's reconcilers run cache engine nodes; driver/process runs them on this host.
package driver

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Engine names a cache engine.
type Engine string

// Supported engines.
const (
	EngineRedis     Engine = "redis"
	EngineValkey    Engine = "valkey"
	EngineMemcached Engine = "memcached"
	// EngineTxlog is a replica of a durability transaction log (`ecache txlog-replica`), which the driver
	// runs and adopts like a cache engine: Binary is the ecache executable, Port the replica's API port, and
	// Args its identity and peers (--id, --peers); the driver gives it its directory.
	EngineTxlog Engine = "txlog"
)

// Valid reports whether e is a supported engine.
func (e Engine) Valid() bool {
	switch e {
	case EngineRedis, EngineValkey, EngineMemcached, EngineTxlog:
		return true
	}
	return false
}

// RESP reports whether the engine speaks the Redis protocol (redis, valkey).
func (e Engine) RESP() bool { return e == EngineRedis || e == EngineValkey }

// NodeSpec describes one engine process.
type NodeSpec struct {
	ID     string // unique, [a-z0-9-], e.g. "demo-0001"; also the node's directory name
	Engine Engine // redis, valkey or memcached
	Binary string // absolute path of the engine executable
	Port   int    // TCP port
	// Bind are the loopback addresses the engine listens on (127.0.0.1, ::1 or both); empty: 127.0.0.1.
	// The driver reaches the engine on the first.
	Bind           []string
	MaxMemoryBytes int64             // redis/valkey: maxmemory; memcached: -m in MB = MaxMemoryBytes>>20
	Threads        int               // memcached -t (0 = engine default)
	Config         map[string]string // extra redis/valkey directives (e.g. "maxmemory-policy": "volatile-lru"); memcached: ignored
	Password       string            // redis/valkey requirepass when non-empty
	// SecondPassword is accepted too, for the default user, while an AUTH token is being rotated.
	SecondPassword string
	// ACL, when set, gives the engine ACL users (role-based access control) in place of Password.
	ACL *ACL
	// TLS, when set, makes the node accept only TLS connections on Port.
	TLS *TLSFiles
	// PlainPort, with TLS, is a second port where the engine takes plain connections (a node whose clients
	// may use either, behind a listener that tells them apart).
	PlainPort int
	// SeedRDB, when set, is an RDB file the redis/valkey engine loads when it starts (a restore from a
	// snapshot). The driver links (or copies) it into the node's directory for the start and removes it from
	// there once the engine answers, so a later restart does not bring the snapshot's data back.
	SeedRDB string
	// StayDown keeps a node whose process died down: Ensure returns ErrNodeDown instead of starting it
	// again. The primary of a replication group with automatic failover stays down until a replica is
	// promoted (restarted, it would come back empty and its replicas would resynchronise from nothing);
	// checking this inside Ensure leaves no moment between the check and a restart for the process to die in.
	StayDown bool
	// Args are extra memcached command-line arguments, after the driver's own (a repeated flag takes
	// the later value); a log replica's arguments after its directory; redis/valkey: ignored.
	Args []string
}

// ACL is a redis/valkey engine's users: ecache's own, with every permission, and the users clients
// authenticate as, the one named default included (what clients are before AUTH). Changes apply to a
// running engine at once: a changed user keeps its connections, a user that goes loses them.
type ACL struct {
	// ControlUser and ControlPassword are ecache's own user, which the driver and the replicas
	// authenticate as.
	ControlUser, ControlPassword string
	Users                        []ACLUser
}

// Equal reports whether a and b give an engine the same users (nil: none, the default user's password).
func (a *ACL) Equal(b *ACL) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ControlUser == b.ControlUser && a.ControlPassword == b.ControlPassword &&
		slices.EqualFunc(a.Users, b.Users, func(x, y ACLUser) bool { return x.Name == y.Name && slices.Equal(x.Rules, y.Rules) })
}

// ACLUser is one engine user: its name and its rules after a reset (on/off, #password digests or nopass,
// keys, channels, commands, selectors).
type ACLUser struct {
	Name  string
	Rules []string
}

// Host is the address the engine is reached on: its first bind address.
func (s NodeSpec) Host() string {
	if len(s.Bind) > 0 {
		return s.Bind[0]
	}
	return "127.0.0.1"
}

// NodeState is the lifecycle state of a node's process.
type NodeState string

// Node states.
const (
	StateRunning  NodeState = "running"
	StateStopped  NodeState = "stopped"
	StateStarting NodeState = "starting"
)

// NodeStatus is a point-in-time view of a node.
type NodeStatus struct {
	ID        string
	PID       int // 0 when stopped
	Port      int
	State     NodeState
	Healthy   bool      // the process answered PING / version just now
	StartedAt time.Time // when the current (or last) process started
	Spec      NodeSpec
}

// Driver runs cache engine nodes.
type Driver interface {
	// Ensure makes the node run with spec: adopts a running process that matches (same binary, port, pid start time),
	// starts it when absent or dead, and returns once it answers PING (redis/valkey) / "version" (memcached).
	// Idempotent. Spec changes that need a restart (port, binary, memory) restart it.
	Ensure(ctx context.Context, spec NodeSpec) (NodeStatus, error)
	// Restart really stops and starts the process; the data directory is kept.
	Restart(ctx context.Context, id string) (NodeStatus, error)
	// Remove stops the process (SIGTERM, then SIGKILL after a grace), frees the port and deletes the node directory.
	// Idempotent.
	Remove(ctx context.Context, id string) error
	// Status returns ErrUnknownNode if the node was never ensured or has been removed.
	Status(ctx context.Context, id string) (NodeStatus, error)
	// Peek is Status without asking the engine: the process state only, at no cost.
	Peek(ctx context.Context, id string) (NodeStatus, error)
	// List returns every node with a directory, including dead ones.
	List(ctx context.Context) ([]NodeStatus, error)
	// Kill ends the node's process at once (SIGKILL to its process group), as a crash would: the exit is
	// reported on Exits and the node stays down until Ensure or Restart. A stopped node is left alone.
	Kill(ctx context.Context, id string) error
	// Exits delivers the id of a node whose process ended without Remove/Restart asking it to (crash, kill -9).
	Exits() <-chan string
	// Close stops watching; it never stops the engines (they outlive ecache).
	Close() error
}

// ErrUnknownNode is returned for a node that was never ensured or has been removed.
var ErrUnknownNode = errors.New("driver: unknown node")

// ErrClusterConfigCorrupt is returned by Ensure when a cluster-mode engine refuses to start because its
// cluster configuration file (nodes.conf) is damaged, e.g. by a kill in the middle of writing it. Remove
// gives the node a fresh directory.
var ErrClusterConfigCorrupt = errors.New("cluster configuration file corrupted")

// ErrConfigRejected is returned by Ensure and Restart when the engine exits at start because it refuses its
// configuration (a parameter value, or a combination of them, that this engine binary does not accept). The
// error is a *Refusal.
var ErrConfigRejected = errors.New("the engine refused its configuration")

// ErrSeedRejected is returned by Ensure when the engine exits at its first start because it cannot load the
// dataset it was seeded with (SeedRDB): a damaged file, or one of a format this binary does not read. Starting
// it again would end the same way. The error is a *Refusal.
var ErrSeedRejected = errors.New("the engine refused the dataset it was seeded with")

// Refusal is how the driver reports a start the engine refused: Of is ErrConfigRejected or ErrSeedRejected,
// Reason the engine's own account of what it refused (from the last lines it logged), Err the failed start.
type Refusal struct {
	Of     error
	Reason string
	Err    error
}

func (e *Refusal) Error() string { return e.Of.Error() + ": " + e.Err.Error() }

// Unwrap makes a Refusal match Of and the error of the start.
func (e *Refusal) Unwrap() []error { return []error{e.Of, e.Err} }

// ErrNodeDown is returned by Ensure for a node with StayDown whose process has died.
var ErrNodeDown = errors.New("node is down and stays down")

// ErrPortInUse is returned by Ensure when another program holds the node's port.
var ErrPortInUse = errors.New("port already in use")

// TLSFiles are the PEM files a TLS node serves with.
type TLSFiles struct {
	CertFile string // server certificate chain
	KeyFile  string // its private key
	CAFile   string // the CA that signed it; probes verify against it
}
