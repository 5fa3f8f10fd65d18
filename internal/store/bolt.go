package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the directory given to
// Open.
const FileName = "ecache.db"

// Layout of the bbolt file:
//
//	meta/format    -> formatVersion (one byte)
//	meta/revision  -> current store revision, uint64 big endian
//	objects/<kind> -> nested bucket per kind; key -> envelope (see envelope.go)
var (
	bucketMeta    = []byte("meta")
	bucketObjects = []byte("objects")
	keyFormat     = []byte("format")
	keyRevision   = []byte("revision")
)

const formatVersion = 1

// Bolt is the durable Store, kept in a single bbolt file that is fsynced on
// every commit. Only one process may open a database at a time.
type Bolt struct {
	db   *bolt.DB
	path string
	hub  *hub

	// sem serialises Update calls so that events are published in commit
	// order, and lets a caller stop waiting when its context ends.
	sem chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

// Open opens (creating if needed) the database <dir>/ecache.db with default
// options. It creates dir if it does not exist.
func Open(dir string) (*Bolt, error) {
	return OpenWithOptions(dir, Options{})
}

// OpenWithOptions is Open with explicit options.
func OpenWithOptions(dir string, opts Options) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)

	bopts := *bolt.DefaultOptions
	bopts.Timeout = opts.lockTimeout()
	db, err := bolt.Open(path, 0o600, &bopts)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s (gave up after %s)", ErrLocked, path, bopts.Timeout)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if created {
		// Make the new directory entry durable too.
		if err := syncDir(dir); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if err := initLayout(db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Bolt{
		db:     db,
		path:   path,
		hub:    newHub(opts.watchBuffer()),
		sem:    make(chan struct{}, 1),
		closed: make(chan struct{}),
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync directory: %w", err)
	}
	return nil
}

func initLayout(db *bolt.DB) error {
	return db.Update(func(btx *bolt.Tx) error {
		meta, err := btx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := btx.CreateBucketIfNotExists(bucketObjects); err != nil {
			return err
		}
		switch v := meta.Get(keyFormat); {
		case v == nil:
			if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("unsupported database format %v", v)
		}
		if meta.Get(keyRevision) == nil {
			return meta.Put(keyRevision, encodeRevision(0))
		}
		_, err = decodeRevision(meta.Get(keyRevision))
		return err
	})
}

// Path returns the database file path.
func (b *Bolt) Path() string { return b.path }

func (b *Bolt) isClosed() bool {
	select {
	case <-b.closed:
		return true
	default:
		return false
	}
}

// view runs fn in a read-only bbolt transaction.
func (b *Bolt) view(ctx context.Context, fn func(btx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return ErrClosed
	}
	err := b.db.View(fn)
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, kind, key string) (Object, error) {
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	var obj Object
	err := b.view(ctx, func(btx *bolt.Tx) error {
		var err error
		obj, err = boltGet(btx, kind, key)
		return err
	})
	return obj, err
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, kind string) ([]Object, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	var objs []Object
	err := b.view(ctx, func(btx *bolt.Tx) error {
		var err error
		objs, err = boltList(btx, kind)
		return err
	})
	return objs, err
}

// ListKnown implements Store.
func (b *Bolt) ListKnown(ctx context.Context, kind, prefix string, known func(key string, revision int64) bool) ([]Object, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	var objs []Object
	err := b.view(ctx, func(btx *bolt.Tx) error {
		bk := kindBucket(btx, kind)
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			if v == nil {
				continue // nested bucket; never written by this package
			}
			obj, err := decodeKnownEnvelope(kind, string(k), v, known)
			if err != nil {
				return err
			}
			objs = append(objs, obj)
		}
		return nil
	})
	return objs, err
}

// Revision implements Store.
func (b *Bolt) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := b.view(ctx, func(btx *bolt.Tx) error {
		var err error
		rev, err = boltRevision(btx)
		return err
	})
	return rev, err
}

// Update implements Store.
func (b *Bolt) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.sem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.isClosed() {
		return ErrClosed
	}

	var tx *boltTx
	err := b.db.Update(func(btx *bolt.Tx) error {
		cur, err := boltRevision(btx)
		if err != nil {
			return err
		}
		tx = &boltTx{btx: btx, rev: cur + 1}
		defer func() { tx.done = true }()
		if err := fn(tx); err != nil {
			return err
		}
		if len(tx.events) == 0 {
			return nil
		}
		return btx.Bucket(bucketMeta).Put(keyRevision, encodeRevision(tx.rev))
	})
	if err != nil {
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	// The commit is durable (bbolt fsyncs before Update returns).
	b.hub.publish(tx.rev, tx.events)
	return nil
}

// Watch implements Store.
func (b *Bolt) Watch(ctx context.Context) <-chan Event {
	return b.hub.subscribe(ctx)
}

// Close implements Store. It waits for a running Update to finish.
func (b *Bolt) Close() error {
	b.closeOnce.Do(func() {
		b.sem <- struct{}{}
		close(b.closed)
		<-b.sem
		b.hub.close()
		b.closeErr = b.db.Close()
	})
	return b.closeErr
}

// Check verifies the database file (bbolt page structure) and every stored
// record: each decodes, and no object's revision exceeds the store revision.
// Writers wait while Check runs.
func (b *Bolt) Check(ctx context.Context) error {
	// bbolt's check on a read-only transaction is not safe against
	// concurrent writers, so hold the writer slot.
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.sem }()
	return b.view(ctx, func(btx *bolt.Tx) error {
		var errs []error
		for err := range btx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrCorrupt, errors.Join(errs...))
		}
		rev, err := boltRevision(btx)
		if err != nil {
			return err
		}
		objects := btx.Bucket(bucketObjects)
		if objects == nil {
			return fmt.Errorf("%w: missing objects bucket", ErrCorrupt)
		}
		return objects.ForEachBucket(func(kind []byte) error {
			bk := objects.Bucket(kind)
			return bk.ForEach(func(k, v []byte) error {
				obj, err := decodeEnvelope(string(kind), string(k), v)
				if err != nil {
					return err
				}
				if obj.Revision > rev {
					return fmt.Errorf("%w: %s/%s has revision %d beyond store revision %d", ErrCorrupt, kind, k, obj.Revision, rev)
				}
				return nil
			})
		})
	})
}

func boltRevision(btx *bolt.Tx) (int64, error) {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		return 0, fmt.Errorf("%w: missing meta bucket", ErrCorrupt)
	}
	return decodeRevision(meta.Get(keyRevision))
}

func kindBucket(btx *bolt.Tx, kind string) *bolt.Bucket {
	objects := btx.Bucket(bucketObjects)
	if objects == nil {
		return nil
	}
	return objects.Bucket([]byte(kind))
}

func boltGet(btx *bolt.Tx, kind, key string) (Object, error) {
	bk := kindBucket(btx, kind)
	if bk == nil {
		return Object{}, notFound(kind, key)
	}
	v := bk.Get([]byte(key))
	if v == nil {
		return Object{}, notFound(kind, key)
	}
	return decodeEnvelope(kind, key, v)
}

func boltList(btx *bolt.Tx, kind string) ([]Object, error) {
	bk := kindBucket(btx, kind)
	if bk == nil {
		return nil, nil
	}
	var objs []Object
	c := bk.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			continue // nested bucket; never written by this package
		}
		obj, err := decodeEnvelope(kind, string(k), v)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// boltTx implements Tx on a writable bbolt transaction. All writes get the
// revision rev, which becomes the store revision if the transaction commits.
type boltTx struct {
	btx    *bolt.Tx
	rev    int64
	events []Event
	done   bool
}

func (t *boltTx) Get(kind, key string) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	return boltGet(t.btx, kind, key)
}

func (t *boltTx) List(kind string) ([]Object, error) {
	if t.done {
		return nil, ErrTxDone
	}
	if err := validKind(kind); err != nil {
		return nil, err
	}
	return boltList(t.btx, kind)
}

// current returns the stored object, or a zero Object with Revision 0 if it
// does not exist.
func (t *boltTx) current(kind, key string) (Object, error) {
	obj, err := boltGet(t.btx, kind, key)
	if errors.Is(err, ErrNotFound) {
		return Object{}, nil
	}
	return obj, err
}

func (t *boltTx) Create(kind, key string, value []byte) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	cur, err := t.current(kind, key)
	if err != nil {
		return Object{}, err
	}
	if cur.Revision != 0 {
		return Object{}, exists(kind, key)
	}
	return t.write(kind, key, value, 0)
}

func (t *boltTx) Put(kind, key string, value []byte, expect int64) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	if err := validExpect(expect); err != nil {
		return Object{}, err
	}
	cur, err := t.current(kind, key)
	if err != nil {
		return Object{}, err
	}
	if err := checkPut(kind, key, cur.Revision, expect); err != nil {
		return Object{}, err
	}
	return t.write(kind, key, value, cur.Created)
}

func (t *boltTx) write(kind, key string, value []byte, created int64) (Object, error) {
	if created == 0 {
		created = t.rev
	}
	bk, err := t.btx.Bucket(bucketObjects).CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return Object{}, fmt.Errorf("store: %s/%s: %w", kind, key, err)
	}
	if err := bk.Put([]byte(key), encodeEnvelope(t.rev, created, value)); err != nil {
		return Object{}, fmt.Errorf("store: %s/%s: %w", kind, key, err)
	}
	obj := Object{Kind: kind, Key: key, Revision: t.rev, Created: created, Value: cloneBytes(value)}
	t.events = append(t.events, Event{Type: Put, Object: obj})
	return cloneObject(obj), nil
}

func (t *boltTx) Delete(kind, key string, expect int64) error {
	if t.done {
		return ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return err
	}
	if err := validExpect(expect); err != nil {
		return err
	}
	cur, err := t.current(kind, key)
	if err != nil {
		return err
	}
	if err := checkDelete(kind, key, cur.Revision, expect); err != nil {
		return err
	}
	if err := kindBucket(t.btx, kind).Delete([]byte(key)); err != nil {
		return fmt.Errorf("store: %s/%s: %w", kind, key, err)
	}
	cur.Revision = t.rev
	t.events = append(t.events, Event{Type: Delete, Object: cur})
	return nil
}
