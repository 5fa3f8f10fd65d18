// Package view keeps one decoded copy of each stored record revision for the Describe operations, so
// that a read decodes only the records that changed since the last one, and lets readers attach what
// they derive from a revision (its rendered response) to it. Imported by internal/service.
//
// A read lists the kind through store.Store.ListKnown, so it sees exactly the committed state at the
// time of the read (no lag behind writes); the cache only saves the copying and decoding of revisions
// it already holds.
package view

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// View caches decoded records by kind, key and revision. It is safe for concurrent use.
type View struct {
	st store.Store

	mu    sync.RWMutex
	kinds map[string]map[string]any // kind → key → *Record[T]; each inner map is replaced, never changed
}

// New returns an empty view of st.
func New(st store.Store) *View {
	return &View{st: st, kinds: map[string]map[string]any{}}
}

// Record is one revision of one stored record, decoded. Records are shared by every reader: neither the
// Record nor its Value may be modified.
type Record[T any] struct {
	Key      string
	Revision int64
	Value    *T

	derived sync.Map
}

// Derive returns what build makes of r's value under key, built once per revision and stamp. The stamp
// (comparable; nil when there is none) names what else the result depends on, such as the revisions of
// other records it shows: a new stamp replaces what was built for the old one.
func Derive[T, V any](r *Record[T], key, stamp any, build func(*T) V) V {
	if d, ok := r.derived.Load(key); ok && d.(derived).stamp == stamp {
		return d.(derived).value.(V)
	}
	v := build(r.Value)
	r.derived.Store(key, derived{stamp: stamp, value: v})
	return v
}

// derived is one value built from a record, with the stamp it was built for.
type derived struct{ stamp, value any }

// List returns the records of kind whose key begins with prefix, ordered by key, as committed when it
// is called. Only revisions the view has not seen are decoded (by resource.Unmarshal).
func List[T any](ctx context.Context, v *View, kind, prefix string) ([]*Record[T], error) {
	v.mu.RLock()
	cached := v.kinds[kind]
	v.mu.RUnlock()
	held := func(key string, rev int64) (*Record[T], bool) {
		r, ok := cached[key].(*Record[T])
		return r, ok && r.Revision == rev
	}
	objs, err := v.st.ListKnown(ctx, kind, prefix, func(key string, rev int64) bool {
		_, ok := held(key, rev)
		return ok
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Record[T], 0, len(objs))
	var fresh []*Record[T]
	for _, o := range objs {
		if r, ok := held(o.Key, o.Revision); ok {
			out = append(out, r)
			continue
		}
		if o.Value == nil {
			return nil, fmt.Errorf("view: %s/%s at revision %d was listed without its value", kind, o.Key, o.Revision)
		}
		val, err := resource.Unmarshal[T](o.Value)
		if err != nil {
			return nil, fmt.Errorf("view: %s/%s: %w", kind, o.Key, err)
		}
		r := &Record[T]{Key: o.Key, Revision: o.Revision, Value: val}
		out = append(out, r)
		fresh = append(fresh, r)
	}
	if len(fresh) > 0 || countPrefix(cached, prefix) != len(out) {
		remember(v, kind, prefix, out)
	}
	return out, nil
}

// remember makes listed, the records of kind under prefix as one read found them, the cached ones:
// records of other prefixes stay, and so does a newer revision that a concurrent read cached.
func remember[T any](v *View, kind, prefix string, listed []*Record[T]) {
	v.mu.Lock()
	defer v.mu.Unlock()
	next := make(map[string]any, len(v.kinds[kind]))
	for k, r := range v.kinds[kind] {
		if !strings.HasPrefix(k, prefix) {
			next[k] = r
		}
	}
	for _, r := range listed {
		if cur, ok := v.kinds[kind][r.Key].(*Record[T]); ok && cur.Revision > r.Revision {
			r = cur
		}
		next[r.Key] = r
	}
	v.kinds[kind] = next
}

// countPrefix counts the keys of m that begin with prefix.
func countPrefix(m map[string]any, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}
