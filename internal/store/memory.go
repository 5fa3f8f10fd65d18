package store

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Memory is a volatile Store for unit tests of other packages. It follows
// the same contract as Bolt, including revisions, compare-and-swap and
// watch semantics, but keeps everything in memory.
type Memory struct {
	hub *hub
	// sem serialises Update calls (see Bolt.sem).
	sem chan struct{}

	mu      sync.RWMutex // guards the fields below
	rev     int64
	objects map[string]map[string]memRecord
	closed  bool
}

type memRecord struct {
	rev, created int64
	value        []byte
}

func (r memRecord) object(kind, key string) Object {
	return Object{Kind: kind, Key: key, Revision: r.rev, Created: r.created, Value: cloneBytes(r.value)}
}

// NewMemory returns an empty in-memory store with default options.
func NewMemory() *Memory {
	return NewMemoryWithOptions(Options{})
}

// NewMemoryWithOptions is NewMemory with explicit options.
func NewMemoryWithOptions(opts Options) *Memory {
	return &Memory{
		hub:     newHub(opts.watchBuffer()),
		sem:     make(chan struct{}, 1),
		objects: make(map[string]map[string]memRecord),
	}
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, kind, key string) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Object{}, ErrClosed
	}
	r, ok := m.objects[kind][key]
	if !ok {
		return Object{}, notFound(kind, key)
	}
	return r.object(kind, key), nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, kind string) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validKind(kind); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	return m.list(kind, nil), nil
}

// ListKnown implements Store.
func (m *Memory) ListKnown(ctx context.Context, kind, prefix string, known func(key string, revision int64) bool) ([]Object, error) {
	objs, err := m.List(ctx, kind)
	if err != nil {
		return nil, err
	}
	objs = slices.DeleteFunc(objs, func(o Object) bool { return !strings.HasPrefix(o.Key, prefix) })
	for i := range objs {
		if known(objs[i].Key, objs[i].Revision) {
			objs[i].Value = nil
		}
	}
	return objs, nil
}

// list returns the objects of kind with the pending writes of a transaction
// (nil entries are deletions) applied. The caller holds m.mu or m.sem.
func (m *Memory) list(kind string, pending map[string]*memRecord) []Object {
	base := m.objects[kind]
	keys := make([]string, 0, len(base)+len(pending))
	for k := range base {
		if _, ok := pending[k]; !ok {
			keys = append(keys, k)
		}
	}
	for k, r := range pending {
		if r != nil {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, strings.Compare)
	objs := make([]Object, 0, len(keys))
	for _, k := range keys {
		if r, ok := pending[k]; ok {
			objs = append(objs, r.object(kind, k))
		} else {
			objs = append(objs, base[k].object(kind, k))
		}
	}
	return objs
}

// Revision implements Store.
func (m *Memory) Revision(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.rev, nil
}

// Update implements Store.
func (m *Memory) Update(ctx context.Context, fn func(tx Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-m.sem }()
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	closed, rev := m.closed, m.rev
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}

	// Only the holder of m.sem mutates m.objects, so the transaction reads
	// the committed state without m.mu.
	tx := &memTx{m: m, rev: rev + 1, pending: make(map[string]map[string]*memRecord)}
	err := func() error {
		defer func() { tx.done = true }()
		return fn(tx)
	}()
	if err != nil {
		return err
	}
	if len(tx.events) == 0 {
		return nil
	}

	m.mu.Lock()
	for kind, writes := range tx.pending {
		objs := m.objects[kind]
		if objs == nil {
			objs = make(map[string]memRecord)
			m.objects[kind] = objs
		}
		for key, r := range writes {
			if r == nil {
				delete(objs, key)
			} else {
				objs[key] = *r
			}
		}
		if len(objs) == 0 {
			delete(m.objects, kind)
		}
	}
	m.rev = tx.rev
	m.mu.Unlock()

	m.hub.publish(tx.rev, tx.events)
	return nil
}

// Watch implements Store.
func (m *Memory) Watch(ctx context.Context) <-chan Event {
	return m.hub.subscribe(ctx)
}

// Close implements Store. It waits for a running Update to finish.
func (m *Memory) Close() error {
	m.sem <- struct{}{}
	defer func() { <-m.sem }()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.hub.close()
	return nil
}

// memTx implements Tx over the committed state plus pending writes.
type memTx struct {
	m       *Memory
	rev     int64
	pending map[string]map[string]*memRecord // nil record = deleted
	events  []Event
	done    bool
}

// lookup returns the record as seen by the transaction.
func (t *memTx) lookup(kind, key string) (memRecord, bool) {
	if r, ok := t.pending[kind][key]; ok {
		if r == nil {
			return memRecord{}, false
		}
		return *r, true
	}
	r, ok := t.m.objects[kind][key]
	return r, ok
}

func (t *memTx) set(kind, key string, r *memRecord) {
	p := t.pending[kind]
	if p == nil {
		p = make(map[string]*memRecord)
		t.pending[kind] = p
	}
	p[key] = r
}

func (t *memTx) Get(kind, key string) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	r, ok := t.lookup(kind, key)
	if !ok {
		return Object{}, notFound(kind, key)
	}
	return r.object(kind, key), nil
}

func (t *memTx) List(kind string) ([]Object, error) {
	if t.done {
		return nil, ErrTxDone
	}
	if err := validKind(kind); err != nil {
		return nil, err
	}
	return t.m.list(kind, t.pending[kind]), nil
}

func (t *memTx) Create(kind, key string, value []byte) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	if _, ok := t.lookup(kind, key); ok {
		return Object{}, exists(kind, key)
	}
	return t.write(kind, key, value, 0), nil
}

func (t *memTx) Put(kind, key string, value []byte, expect int64) (Object, error) {
	if t.done {
		return Object{}, ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return Object{}, err
	}
	if err := validExpect(expect); err != nil {
		return Object{}, err
	}
	cur, _ := t.lookup(kind, key)
	if err := checkPut(kind, key, cur.rev, expect); err != nil {
		return Object{}, err
	}
	return t.write(kind, key, value, cur.created), nil
}

func (t *memTx) write(kind, key string, value []byte, created int64) Object {
	if created == 0 {
		created = t.rev
	}
	r := &memRecord{rev: t.rev, created: created, value: cloneBytes(value)}
	t.set(kind, key, r)
	obj := r.object(kind, key)
	t.events = append(t.events, Event{Type: Put, Object: obj})
	return r.object(kind, key)
}

func (t *memTx) Delete(kind, key string, expect int64) error {
	if t.done {
		return ErrTxDone
	}
	if err := validName(kind, key); err != nil {
		return err
	}
	if err := validExpect(expect); err != nil {
		return err
	}
	cur, _ := t.lookup(kind, key)
	if err := checkDelete(kind, key, cur.rev, expect); err != nil {
		return err
	}
	t.set(kind, key, nil)
	obj := cur.object(kind, key)
	obj.Revision = t.rev
	t.events = append(t.events, Event{Type: Delete, Object: obj})
	return nil
}
