// Package store keeps ecache's desired and observed resource state: every
// control-plane resource (cache clusters, replication groups, parameter
// groups, users, snapshots, ...) is one Object addressed by its kind and key.
// Imported by internal/service and internal/controller.
//
// The Store interface is deliberately small so that a replicated
// implementation (for example one backed by raft) can satisfy it later:
//
//   - Every read-write transaction runs through Update and is serialisable.
//     All of its writes commit atomically, and the store-wide revision is
//     advanced by exactly one for every transaction that wrote something.
//   - Every object carries the revision of the commit that last wrote it and
//     the revision at which it was created; callers use the former for
//     optimistic concurrency (compare-and-swap via Tx.Put and Tx.Delete).
//   - Watch delivers committed changes in commit order, never blocks writers,
//     and replaces a backlog that a slow watcher cannot absorb with a single
//     Resync event, after which the watcher re-reads the state it cares about.
//
// Two implementations are provided: Bolt, a durable single-file store built on
// go.etcd.io/bbolt that fsyncs every commit, and Memory, a volatile store for
// unit tests of other packages. Both pass the contract suite in
// internal/store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned when the addressed object does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned by Tx.Create when the object already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict is returned by Tx.Put and Tx.Delete when the object's
	// current revision does not match the expected one.
	ErrConflict = errors.New("store: revision conflict")

	// ErrInvalid is returned for an empty or oversized kind or key, or an
	// expected revision below -1.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrClosed is returned by every operation on a closed store.
	ErrClosed = errors.New("store: closed")
	// ErrTxDone is returned when a Tx is used after its Update function
	// returned.
	ErrTxDone = errors.New("store: transaction has ended")
	// ErrLocked is returned by Open when another process holds the database
	// file lock for longer than the lock timeout.
	ErrLocked = errors.New("store: database is locked by another process")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt record")
)

// Limits on kinds and keys.
const (
	MaxKindLen = 256
	MaxKeyLen  = 4096
)

// Expected-revision values with special meaning for Tx.Put and Tx.Delete.
const (
	// MustNotExist makes Tx.Put fail with ErrConflict if the object exists.
	MustNotExist int64 = 0
	// AnyRevision makes Tx.Put an unconditional upsert and Tx.Delete an
	// unconditional delete.
	AnyRevision int64 = -1
)

// Defaults for Options.
const (
	DefaultWatchBuffer = 1024
	DefaultLockTimeout = 3 * time.Second
)

// Options tune a store. The zero value selects the defaults.
type Options struct {
	// WatchBuffer is the number of events queued for one watcher before its
	// backlog is dropped and replaced by a Resync event. Zero means
	// DefaultWatchBuffer.
	WatchBuffer int
	// LockTimeout bounds how long Open waits for the exclusive lock on the
	// database file. Zero means DefaultLockTimeout. Ignored by Memory.
	LockTimeout time.Duration
}

func (o Options) watchBuffer() int {
	if o.WatchBuffer <= 0 {
		return DefaultWatchBuffer
	}
	return o.WatchBuffer
}

func (o Options) lockTimeout() time.Duration {
	if o.LockTimeout <= 0 {
		return DefaultLockTimeout
	}
	return o.LockTimeout
}

// Object is one stored resource. Kind is a resource kind such as
// "cache-cluster"; Key is its id within the kind.
type Object struct {
	Kind, Key string
	// Revision is the store-wide revision of the commit that last wrote this
	// object (monotonic, starts at 1).
	Revision int64
	// Created is the revision at which the object was created.
	Created int64
	Value   []byte
}

// EventType tells what a watch Event reports.
type EventType int

const (
	// Put reports that an object was created or replaced; Event.Object is
	// the object as written.
	Put EventType = iota + 1
	// Delete reports that an object was deleted; Event.Object carries its
	// Kind, Key, Created and last Value, and the Revision of the deleting
	// commit.
	Delete
	// Resync reports that the watcher fell behind and events were dropped.
	// Event.Object is empty apart from Revision, the store revision of the
	// commit whose events overflowed the buffer. The receiver must re-read
	// the state it tracks; events that follow a Resync are delivered as usual.
	Resync
)

func (t EventType) String() string {
	switch t {
	case Put:
		return "PUT"
	case Delete:
		return "DELETE"
	case Resync:
		return "RESYNC"
	default:
		return fmt.Sprintf("EventType(%d)", int(t))
	}
}

// Event is one committed change delivered by Store.Watch.
type Event struct {
	Type   EventType
	Object Object
}

// Store is a transactional key-value store for control-plane resources.
// All methods are safe for concurrent use. Values returned to callers are
// copies and may be modified freely.
type Store interface {
	// Get returns the object, or ErrNotFound.
	Get(ctx context.Context, kind, key string) (Object, error)
	// List returns all objects of kind ordered by Key (byte-wise).
	List(ctx context.Context, kind string) ([]Object, error)
	// ListKnown is List for a reader that keeps decoded copies of records:
	// it lists only the objects whose Key begins with prefix, and leaves
	// Value nil for each object for which known(key, revision) reports that
	// the reader holds that revision already, so that a read copies and
	// decodes only what changed. known runs inside the read and must be
	// quick and must not call the store.
	ListKnown(ctx context.Context, kind, prefix string, known func(key string, revision int64) bool) ([]Object, error)
	// Update runs fn in one serialisable read-write transaction; all its
	// writes commit atomically (durably, fsync) when fn returns nil and are
	// discarded when it returns an error (returned as is). Reads inside fn
	// see the transaction's own writes. A transaction without writes does
	// not advance the revision. Updates are serialised: fn must not call
	// Update itself, and must not retain tx after returning.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Watch delivers every committed change after the call, in commit order,
	// until ctx ends or the store is closed, and then closes the channel.
	// A slow watcher does not block commits: if its buffer overflows, the
	// backlog is dropped and a synthetic Resync event is delivered instead.
	Watch(ctx context.Context) <-chan Event
	// Revision returns the revision of the latest commit (0 for an empty
	// store).
	Revision(ctx context.Context) (int64, error)
	// Close releases the store. Pending watch channels are closed.
	Close() error
}

// Tx is the view of a store inside Store.Update. It is valid only until the
// Update function returns and must not be used from other goroutines.
type Tx interface {
	// Get returns the object, or ErrNotFound.
	Get(kind, key string) (Object, error)
	// List returns all objects of kind ordered by Key.
	List(kind string) ([]Object, error)
	// Create writes a new object; ErrExists if it is present.
	Create(kind, key string, value []byte) (Object, error)
	// Put writes value if the object's current revision equals expect
	// (expect 0 = must not exist, else ErrConflict; expect -1 = unconditional
	// upsert; expect > 0 on a missing object is ErrConflict). Returns the new
	// Object.
	Put(kind, key string, value []byte, expect int64) (Object, error)
	// Delete removes the object: ErrNotFound if it is missing, ErrConflict
	// if its revision differs from expect; expect -1 = unconditional.
	Delete(kind, key string, expect int64) error
}

var (
	_ Store = (*Bolt)(nil)
	_ Store = (*Memory)(nil)
)

func validKind(kind string) error {
	if kind == "" || len(kind) > MaxKindLen {
		return fmt.Errorf("%w: kind %q must be 1 to %d bytes", ErrInvalid, kind, MaxKindLen)
	}
	return nil
}

func validName(kind, key string) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %s must be 1 to %d bytes", ErrInvalid, kind, MaxKeyLen)
	}
	return nil
}

func validExpect(expect int64) error {
	if expect < AnyRevision {
		return fmt.Errorf("%w: expected revision %d", ErrInvalid, expect)
	}
	return nil
}

func notFound(kind, key string) error {
	return fmt.Errorf("%w: %s/%s", ErrNotFound, kind, key)
}

func exists(kind, key string) error {
	return fmt.Errorf("%w: %s/%s", ErrExists, kind, key)
}

func conflict(kind, key string, current, expect int64) error {
	if current == 0 {
		return fmt.Errorf("%w: %s/%s does not exist, expected revision %d", ErrConflict, kind, key, expect)
	}
	return fmt.Errorf("%w: %s/%s is at revision %d, expected %d", ErrConflict, kind, key, current, expect)
}

// checkPut decides whether a Put with expect may replace an object whose
// current revision is cur (0 = missing).
func checkPut(kind, key string, cur, expect int64) error {
	if expect == AnyRevision || expect == cur {
		return nil
	}
	return conflict(kind, key, cur, expect)
}

// checkDelete decides whether a Delete with expect may remove an object
// whose current revision is cur (0 = missing).
func checkDelete(kind, key string, cur, expect int64) error {
	if cur == 0 {
		return notFound(kind, key)
	}
	if expect == AnyRevision || expect == cur {
		return nil
	}
	return conflict(kind, key, cur, expect)
}

// cloneBytes copies b; empty values are always returned as nil so that both
// implementations agree.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func cloneObject(o Object) Object {
	o.Value = cloneBytes(o.Value)
	return o
}
