// Package storetest is the contract test suite for store.Store
// implementations. Every implementation (store.Bolt, store.Memory and any
// future replicated store) must pass Run.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/store"
)

// Factory returns a new, empty store configured with opts. It should
// register a t.Cleanup that closes the store; Close may then be called twice.
type Factory func(t *testing.T, opts store.Options) store.Store

// eventTimeout bounds every wait for a watch event.
const eventTimeout = 10 * time.Second

// Run runs the whole contract suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore Factory)
	}{
		{"CreateGetList", testCreateGetList},
		{"Errors", testErrors},
		{"CompareAndSwap", testCompareAndSwap},
		{"ListKnown", testListKnown},
		{"ReadYourWrites", testReadYourWrites},
		{"Rollback", testRollback},
		{"ReadOnlyUpdate", testReadOnlyUpdate},
		{"MultiObjectAtomicity", testMultiObjectAtomicity},
		{"ValuesAreCopied", testValuesAreCopied},
		{"WatchOrder", testWatchOrder},
		{"WatchOverflow", testWatchOverflow},
		{"WatchCancel", testWatchCancel},
		{"ConcurrentCounter", testConcurrentCounter},
		{"Context", testContext},
		{"TxAfterUpdate", testTxAfterUpdate},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// create commits one object per key, each in its own transaction.
func create(t *testing.T, s store.Store, kind string, keys ...string) []store.Object {
	t.Helper()
	var objs []store.Object
	for _, key := range keys {
		var obj store.Object
		err := s.Update(context.Background(), func(tx store.Tx) error {
			var err error
			obj, err = tx.Create(kind, key, []byte("value-"+key))
			return err
		})
		if err != nil {
			t.Fatalf("create %s/%s: %v", kind, key, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(context.Background())
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func keysOf(objs []store.Object) []string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameObject(a, b store.Object) bool {
	return a.Kind == b.Kind && a.Key == b.Key && a.Revision == b.Revision &&
		a.Created == b.Created && bytes.Equal(a.Value, b.Value)
}

func fmtObject(o store.Object) string {
	return fmt.Sprintf("%s/%s rev=%d created=%d value=%q", o.Kind, o.Key, o.Revision, o.Created, o.Value)
}

func fmtEvent(e store.Event) string {
	return e.Type.String() + " " + fmtObject(e.Object)
}

func testCreateGetList(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	if got := revision(t, s); got != 0 {
		t.Fatalf("Revision of empty store: got %d, want 0", got)
	}
	created := create(t, s, "cache-cluster", "c", "a", "b", "a-1", "B")
	create(t, s, "replication-group", "rg1")

	for i, obj := range created {
		wantRev := int64(i + 1)
		if obj.Revision != wantRev || obj.Created != wantRev {
			t.Errorf("Create %s: got revision %d created %d, want %d and %d", obj.Key, obj.Revision, obj.Created, wantRev, wantRev)
		}
	}
	if got, want := revision(t, s), int64(6); got != want {
		t.Errorf("Revision: got %d, want %d", got, want)
	}

	for _, want := range created {
		t.Run("Get/"+want.Key, func(t *testing.T) {
			got, err := s.Get(ctx, want.Kind, want.Key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !sameObject(got, want) {
				t.Errorf("Get: got %s, want %s", fmtObject(got), fmtObject(want))
			}
		})
	}

	lists := []struct {
		kind string
		want []string
	}{
		{"cache-cluster", []string{"B", "a", "a-1", "b", "c"}},
		{"replication-group", []string{"rg1"}},
		{"snapshot", nil},
	}
	for _, tc := range lists {
		t.Run("List/"+tc.kind, func(t *testing.T) {
			objs, err := s.List(ctx, tc.kind)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if got := keysOf(objs); !equalStrings(got, tc.want) {
				t.Errorf("List keys: got %q, want %q", got, tc.want)
			}
			for _, o := range objs {
				if o.Kind != tc.kind || string(o.Value) != "value-"+o.Key {
					t.Errorf("List entry: got %s", fmtObject(o))
				}
			}
		})
	}
}

// testListKnown checks that ListKnown lists one prefix of a kind and leaves out exactly the values the
// reader reports as known at their current revision.
func testListKnown(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	created := create(t, s, "cache-cluster", "r1/a", "r1/b", "r2/a", "r1/c", "r10/a")
	known := map[string]int64{"r1/a": created[0].Revision, "r1/b": created[1].Revision - 1, "r2/a": created[2].Revision}
	objs, err := s.ListKnown(ctx, "cache-cluster", "r1/", func(key string, rev int64) bool { return known[key] == rev })
	if err != nil {
		t.Fatalf("ListKnown: %v", err)
	}
	if got, want := keysOf(objs), []string{"r1/a", "r1/b", "r1/c"}; !equalStrings(got, want) {
		t.Fatalf("ListKnown keys: got %q, want %q", got, want)
	}
	for i, want := range []string{"", "value-r1/b", "value-r1/c"} {
		if got := string(objs[i].Value); got != want || objs[i].Revision == 0 || objs[i].Created == 0 {
			t.Errorf("ListKnown %s: got %s, want value %q with its revisions", objs[i].Key, fmtObject(objs[i]), want)
		}
	}
	if objs, err := s.ListKnown(ctx, "snapshot", "", func(string, int64) bool { return false }); err != nil || len(objs) != 0 {
		t.Errorf("ListKnown of an empty kind: %d objects, %v", len(objs), err)
	}
	all, err := s.ListKnown(ctx, "cache-cluster", "", func(string, int64) bool { return false })
	if err != nil || len(all) != len(created) {
		t.Errorf("ListKnown without prefix: %d objects, %v; want %d", len(all), err, len(created))
	}
}

func testErrors(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	existing := create(t, s, "user", "alice")[0]
	// Advance the revision so that stale and current revisions differ.
	create(t, s, "user", "bob")

	tests := []struct {
		name string
		op   func(tx store.Tx) error
		want error
	}{
		{"CreateExisting", func(tx store.Tx) error { _, err := tx.Create("user", "alice", nil); return err }, store.ErrExists},
		{"GetMissing", func(tx store.Tx) error { _, err := tx.Get("user", "carol"); return err }, store.ErrNotFound},
		{"GetMissingKind", func(tx store.Tx) error { _, err := tx.Get("nope", "carol"); return err }, store.ErrNotFound},
		{"PutMustNotExist", func(tx store.Tx) error {
			_, err := tx.Put("user", "alice", nil, store.MustNotExist)
			return err
		}, store.ErrConflict},
		{"PutStale", func(tx store.Tx) error {
			_, err := tx.Put("user", "alice", nil, existing.Revision+1)
			return err
		}, store.ErrConflict},
		{"PutMissingWithRevision", func(tx store.Tx) error {
			_, err := tx.Put("user", "carol", nil, existing.Revision)
			return err
		}, store.ErrConflict},
		{"DeleteMissing", func(tx store.Tx) error { return tx.Delete("user", "carol", store.AnyRevision) }, store.ErrNotFound},
		{"DeleteMissingKind", func(tx store.Tx) error { return tx.Delete("nope", "carol", store.AnyRevision) }, store.ErrNotFound},
		{"DeleteStale", func(tx store.Tx) error { return tx.Delete("user", "alice", existing.Revision+1) }, store.ErrConflict},
		{"DeleteMustNotExist", func(tx store.Tx) error { return tx.Delete("user", "alice", store.MustNotExist) }, store.ErrConflict},
		{"EmptyKind", func(tx store.Tx) error { _, err := tx.Create("", "x", nil); return err }, store.ErrInvalid},
		{"EmptyKey", func(tx store.Tx) error { _, err := tx.Put("user", "", nil, store.AnyRevision); return err }, store.ErrInvalid},
		{"LongKey", func(tx store.Tx) error {
			_, err := tx.Get("user", string(make([]byte, store.MaxKeyLen+1)))
			return err
		}, store.ErrInvalid},
		{"BadExpect", func(tx store.Tx) error { _, err := tx.Put("user", "alice", nil, -2); return err }, store.ErrInvalid},
		{"ListEmptyKind", func(tx store.Tx) error { _, err := tx.List(""); return err }, store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := revision(t, s)
			err := s.Update(ctx, tc.op)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			if got := revision(t, s); got != before {
				t.Errorf("Revision after failed Update: got %d, want %d", got, before)
			}
			got, err := s.Get(ctx, "user", "alice")
			if err != nil || !sameObject(got, existing) {
				t.Errorf("alice after failed Update: got %s (%v), want %s", fmtObject(got), err, fmtObject(existing))
			}
		})
	}

	outside := []struct {
		name string
		op   func() error
		want error
	}{
		{"GetMissing", func() error { _, err := s.Get(ctx, "user", "carol"); return err }, store.ErrNotFound},
		{"GetEmptyKey", func() error { _, err := s.Get(ctx, "user", ""); return err }, store.ErrInvalid},
		{"ListEmptyKind", func() error { _, err := s.List(ctx, ""); return err }, store.ErrInvalid},
	}
	for _, tc := range outside {
		t.Run("Store/"+tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, tc.want) {
				t.Errorf("got error %v, want %v", err, tc.want)
			}
		})
	}
}

func testCompareAndSwap(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	v1 := create(t, s, "parameter-group", "pg")[0]

	put := func(value string, expect int64) (store.Object, error) {
		var obj store.Object
		err := s.Update(ctx, func(tx store.Tx) error {
			var err error
			obj, err = tx.Put("parameter-group", "pg", []byte(value), expect)
			return err
		})
		return obj, err
	}

	v2, err := put("two", v1.Revision)
	if err != nil {
		t.Fatalf("Put with current revision: %v", err)
	}
	if v2.Revision <= v1.Revision || v2.Created != v1.Created {
		t.Errorf("Put: got revision %d created %d, want revision > %d and created %d", v2.Revision, v2.Created, v1.Revision, v1.Created)
	}

	steps := []struct {
		name    string
		value   string
		expect  int64
		wantErr error
	}{
		{"StaleRevision", "stale", v1.Revision, store.ErrConflict},
		{"FutureRevision", "future", v2.Revision + 100, store.ErrConflict},
		{"MustNotExist", "again", store.MustNotExist, store.ErrConflict},
		{"CurrentRevision", "three", v2.Revision, nil},
		{"Unconditional", "four", store.AnyRevision, nil},
	}
	last := v2
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, err := put(st.value, st.expect)
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("Put(expect=%d): got error %v, want %v", st.expect, err, st.wantErr)
			}
			stored, gerr := s.Get(ctx, "parameter-group", "pg")
			if gerr != nil {
				t.Fatalf("Get: %v", gerr)
			}
			if st.wantErr != nil {
				if !sameObject(stored, last) {
					t.Errorf("after rejected Put: got %s, want %s", fmtObject(stored), fmtObject(last))
				}
				return
			}
			want := store.Object{Kind: "parameter-group", Key: "pg", Revision: last.Revision + 1, Created: v1.Created, Value: []byte(st.value)}
			if !sameObject(got, want) || !sameObject(stored, want) {
				t.Errorf("Put: got %s, stored %s, want %s", fmtObject(got), fmtObject(stored), fmtObject(want))
			}
			last = stored
		})
	}

	t.Run("DeleteStaleThenCurrent", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete("parameter-group", "pg", v1.Revision) })
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Delete stale: got %v, want %v", err, store.ErrConflict)
		}
		err = s.Update(ctx, func(tx store.Tx) error { return tx.Delete("parameter-group", "pg", last.Revision) })
		if err != nil {
			t.Fatalf("Delete current: %v", err)
		}
		if _, err := s.Get(ctx, "parameter-group", "pg"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete: got %v, want %v", err, store.ErrNotFound)
		}
	})

	t.Run("RecreateGetsNewCreated", func(t *testing.T) {
		got, err := put("reborn", store.MustNotExist)
		if err != nil {
			t.Fatalf("Put(expect=0) on deleted object: %v", err)
		}
		rev := revision(t, s)
		if got.Revision != rev || got.Created != rev {
			t.Errorf("recreated: got revision %d created %d, want both %d", got.Revision, got.Created, rev)
		}
	})
}

func testReadYourWrites(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	create(t, s, "snapshot", "b", "d")
	base := revision(t, s)

	err := s.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Create("snapshot", "a", []byte("A"))
		if err != nil {
			return err
		}
		if a.Revision != base+1 || a.Created != base+1 {
			t.Errorf("Create in tx: got revision %d created %d, want %d", a.Revision, a.Created, base+1)
		}
		got, err := tx.Get("snapshot", "a")
		if err != nil || !sameObject(got, a) {
			t.Errorf("Get own create: got %s (%v), want %s", fmtObject(got), err, fmtObject(a))
		}
		a2, err := tx.Put("snapshot", "a", []byte("A2"), a.Revision)
		if err != nil {
			return fmt.Errorf("Put with revision of own write: %w", err)
		}
		if a2.Revision != a.Revision || a2.Created != a.Created {
			t.Errorf("second write in tx: got revision %d created %d, want %d", a2.Revision, a2.Created, a.Revision)
		}
		if err := tx.Delete("snapshot", "d", store.AnyRevision); err != nil {
			return err
		}
		if _, err := tx.Get("snapshot", "d"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get own delete: got %v, want %v", err, store.ErrNotFound)
		}
		if _, err := tx.Create("snapshot", "c", []byte("C")); err != nil {
			return err
		}
		objs, err := tx.List("snapshot")
		if err != nil {
			return err
		}
		if got, want := keysOf(objs), []string{"a", "b", "c"}; !equalStrings(got, want) {
			t.Errorf("List in tx: got %q, want %q", got, want)
		}
		if string(objs[0].Value) != "A2" {
			t.Errorf("List in tx value of a: got %q, want %q", objs[0].Value, "A2")
		}
		// Reads outside the transaction do not see uncommitted writes. A
		// read-only call on the store must not deadlock while an Update runs.
		if _, err := s.Get(ctx, "snapshot", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get outside tx before commit: got %v, want %v", err, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, want := revision(t, s), base+1; got != want {
		t.Errorf("Revision after multi-write tx: got %d, want %d", got, want)
	}
	objs, err := s.List(ctx, "snapshot")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := keysOf(objs), []string{"a", "b", "c"}; !equalStrings(got, want) {
		t.Errorf("List after commit: got %q, want %q", got, want)
	}
}

func testRollback(t *testing.T, newStore Factory) {
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"ReturnedError", func(tx store.Tx) error {
			for i := range 5 {
				if _, err := tx.Create("cache-cluster", "new-"+strconv.Itoa(i), []byte("x")); err != nil {
					return err
				}
			}
			if _, err := tx.Put("cache-cluster", "keep", []byte("changed"), store.AnyRevision); err != nil {
				return err
			}
			if err := tx.Delete("cache-cluster", "gone", store.AnyRevision); err != nil {
				return err
			}
			return errBoom
		}, errBoom},
		{"StoreErrorAfterWrites", func(tx store.Tx) error {
			if _, err := tx.Create("cache-cluster", "new-0", []byte("x")); err != nil {
				return err
			}
			_, err := tx.Create("cache-cluster", "keep", nil) // fails: exists
			return err
		}, store.ErrExists},
		{"WrappedError", func(tx store.Tx) error {
			if err := tx.Delete("cache-cluster", "keep", store.AnyRevision); err != nil {
				return err
			}
			return fmt.Errorf("validate: %w", errBoom)
		}, errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, store.Options{})
			ctx := context.Background()
			create(t, s, "cache-cluster", "gone", "keep")
			before, err := s.List(ctx, "cache-cluster")
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			rev := revision(t, s)
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			events := s.Watch(wctx)

			var fnErr error
			err = s.Update(ctx, func(tx store.Tx) error {
				fnErr = tc.fn(tx)
				return fnErr
			})
			if err != fnErr || !errors.Is(err, tc.want) {
				t.Fatalf("Update: got error %v, want %v returned as is", err, tc.want)
			}
			if got := revision(t, s); got != rev {
				t.Errorf("Revision after rollback: got %d, want %d", got, rev)
			}
			after, err := s.List(ctx, "cache-cluster")
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if len(after) != len(before) {
				t.Fatalf("List after rollback: got %q, want %q", keysOf(after), keysOf(before))
			}
			for i := range before {
				if !sameObject(after[i], before[i]) {
					t.Errorf("after rollback: got %s, want %s", fmtObject(after[i]), fmtObject(before[i]))
				}
			}
			// The first event the watcher sees is the next real commit.
			create(t, s, "cache-cluster", "marker")
			ev := recv(t, events)
			if ev.Type != store.Put || ev.Object.Key != "marker" {
				t.Errorf("first event after rollback: got %s, want PUT of marker", fmtEvent(ev))
			}
		})
	}
}

func testReadOnlyUpdate(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	create(t, s, "user", "u1")
	rev := revision(t, s)
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Get("user", "u1")
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := revision(t, s); got != rev {
		t.Errorf("Revision after read-only Update: got %d, want %d", got, rev)
	}
}

// testMultiObjectAtomicity moves units between accounts in transactions
// while readers check, on consistent List snapshots, that the total never
// changes and that no partial transfer is visible.
func testMultiObjectAtomicity(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	const accounts, initial, transfers = 5, 100, 60
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range accounts {
			if _, err := tx.Create("account", strconv.Itoa(i), []byte(strconv.Itoa(initial))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}

	check := func() error {
		objs, err := s.List(ctx, "account")
		if err != nil {
			return err
		}
		if len(objs) != accounts {
			return fmt.Errorf("got %d accounts, want %d", len(objs), accounts)
		}
		sum := 0
		for _, o := range objs {
			n, err := strconv.Atoi(string(o.Value))
			if err != nil {
				return fmt.Errorf("%s: %v", fmtObject(o), err)
			}
			sum += n
		}
		if sum != accounts*initial {
			return fmt.Errorf("sum of balances: got %d, want %d", sum, accounts*initial)
		}
		return nil
	}

	done := make(chan struct{})
	readerErr := make(chan error, 1)
	go func() {
		defer close(readerErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := check(); err != nil {
				readerErr <- err
				return
			}
		}
	}()

	errAbort := errors.New("abort")
	for i := range transfers {
		from, to := strconv.Itoa(i%accounts), strconv.Itoa((i+2)%accounts)
		abort := i%3 == 0
		err := s.Update(ctx, func(tx store.Tx) error {
			a, err := tx.Get("account", from)
			if err != nil {
				return err
			}
			b, err := tx.Get("account", to)
			if err != nil {
				return err
			}
			an, _ := strconv.Atoi(string(a.Value))
			bn, _ := strconv.Atoi(string(b.Value))
			if _, err := tx.Put("account", from, []byte(strconv.Itoa(an-7)), a.Revision); err != nil {
				return err
			}
			if abort {
				return errAbort // the debit above must not survive
			}
			_, err = tx.Put("account", to, []byte(strconv.Itoa(bn+7)), b.Revision)
			return err
		})
		if abort && !errors.Is(err, errAbort) || !abort && err != nil {
			t.Fatalf("transfer %d: got %v", i, err)
		}
	}
	close(done)
	if err := <-readerErr; err != nil {
		t.Errorf("reader saw a partial transaction: %v", err)
	}
	if err := check(); err != nil {
		t.Errorf("final state: %v", err)
	}
}

func testValuesAreCopied(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	in := []byte("original")
	err := s.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Create("user", "u", in)
		if err != nil {
			return err
		}
		obj.Value[0] = 'X'
		copy(in, "mutated!")
		got, err := tx.Get("user", "u")
		if err != nil {
			return err
		}
		if string(got.Value) != "original" {
			t.Errorf("value in tx after caller mutation: got %q, want %q", got.Value, "original")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, err := s.Get(ctx, "user", "u")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got.Value[0] = 'Y'
	again, err := s.Get(ctx, "user", "u")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(again.Value) != "original" {
		t.Errorf("value after mutating a returned copy: got %q, want %q", again.Value, "original")
	}

	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("user", "empty", nil, store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatalf("Put empty value: %v", err)
	}
	empty, err := s.Get(ctx, "user", "empty")
	if err != nil || len(empty.Value) != 0 {
		t.Errorf("empty value: got %q (%v), want empty", empty.Value, err)
	}
}

func recv(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatalf("watch channel closed, want an event")
		}
		return ev
	case <-time.After(eventTimeout):
		t.Fatalf("no watch event within %s", eventTimeout)
	}
	return store.Event{}
}

func testWatchOrder(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	create(t, s, "cache-cluster", "before-watch")

	w1 := s.Watch(ctx)
	w2 := s.Watch(ctx)

	type step struct {
		fn   func(tx store.Tx) error
		want []store.Event
	}
	base := revision(t, s)
	obj := func(key, value string, rev, created int64) store.Object {
		return store.Object{Kind: "cache-cluster", Key: key, Revision: base + rev, Created: base + created, Value: []byte(value)}
	}
	steps := []step{
		{func(tx store.Tx) error { _, err := tx.Create("cache-cluster", "a", []byte("a1")); return err },
			[]store.Event{{Type: store.Put, Object: obj("a", "a1", 1, 1)}}},
		{func(tx store.Tx) error { _, err := tx.Create("cache-cluster", "b", []byte("b1")); return err },
			[]store.Event{{Type: store.Put, Object: obj("b", "b1", 2, 2)}}},
		{func(tx store.Tx) error { _, err := tx.Put("cache-cluster", "a", []byte("a2"), base+1); return err },
			[]store.Event{{Type: store.Put, Object: obj("a", "a2", 3, 1)}}},
		{func(tx store.Tx) error { return tx.Delete("cache-cluster", "b", store.AnyRevision) },
			[]store.Event{{Type: store.Delete, Object: obj("b", "b1", 4, 2)}}},
		{func(tx store.Tx) error { return errors.New("rolled back") }, nil},
		{func(tx store.Tx) error {
			if _, err := tx.Create("cache-cluster", "c", []byte("c1")); err != nil {
				return err
			}
			if _, err := tx.Put("cache-cluster", "a", []byte("a3"), store.AnyRevision); err != nil {
				return err
			}
			return tx.Delete("cache-cluster", "before-watch", store.AnyRevision)
		}, []store.Event{
			{Type: store.Put, Object: obj("c", "c1", 5, 5)},
			{Type: store.Put, Object: obj("a", "a3", 5, 1)},
			{Type: store.Delete, Object: store.Object{Kind: "cache-cluster", Key: "before-watch", Revision: base + 5, Created: base, Value: []byte("value-before-watch")}},
		}},
	}
	var want []store.Event
	for i, st := range steps {
		err := s.Update(context.Background(), st.fn)
		if (err == nil) != (st.want != nil) {
			t.Fatalf("step %d: got error %v", i, err)
		}
		want = append(want, st.want...)
	}

	for name, ch := range map[string]<-chan store.Event{"first": w1, "second": w2} {
		t.Run(name, func(t *testing.T) {
			for i, w := range want {
				got := recv(t, ch)
				if got.Type != w.Type || !sameObject(got.Object, w.Object) {
					t.Errorf("event %d: got %s, want %s", i, fmtEvent(got), fmtEvent(w))
				}
			}
		})
	}

	t.Run("LateWatcher", func(t *testing.T) {
		late := s.Watch(ctx)
		create(t, s, "cache-cluster", "late")
		got := recv(t, late)
		if got.Type != store.Put || got.Object.Key != "late" {
			t.Errorf("first event of a late watcher: got %s, want PUT of late", fmtEvent(got))
		}
	})
}

func testWatchOverflow(t *testing.T, newStore Factory) {
	const buffer, commits = 4, 40
	s := newStore(t, store.Options{WatchBuffer: buffer})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := s.Watch(ctx)
	fast := s.Watch(ctx)

	// Commits must complete although the slow watcher never reads. The fast
	// watcher is read after every commit and must see each one.
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range commits {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.Put("counter", "c", []byte(strconv.Itoa(i)), store.AnyRevision)
				return err
			})
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
				return
			}
			select {
			case ev := <-fast:
				if ev.Type != store.Put || string(ev.Object.Value) != strconv.Itoa(i) {
					t.Errorf("fast watcher after commit %d: got %s", i, fmtEvent(ev))
				}
			case <-time.After(eventTimeout):
				t.Errorf("fast watcher: no event for commit %d", i)
				return
			}
		}
	}()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatalf("commits blocked by a slow watcher")
	}
	create(t, s, "counter", "marker")
	last := revision(t, s)

	var got []store.Event
	resyncs := 0
	for {
		ev := recv(t, slow)
		got = append(got, ev)
		if ev.Type == store.Resync {
			resyncs++
			if ev.Object.Revision < 1 || ev.Object.Revision > last {
				t.Errorf("Resync revision: got %d, want within [1, %d]", ev.Object.Revision, last)
			}
		}
		// The marker ends the backlog, or a Resync that covers it: a marker commit that overflows the
		// queue is folded into the Resync like the rest of the backlog.
		if ev.Object.Key == "marker" || ev.Type == store.Resync && ev.Object.Revision >= last {
			break
		}
	}
	if resyncs == 0 {
		t.Errorf("slow watcher: got no %v event among %d events", store.Resync, len(got))
	}
	if len(got) > buffer+2 {
		t.Errorf("slow watcher: got %d events, want at most %d (backlog dropped)", len(got), buffer+2)
	}
	// Events before the Resync and after it are in commit order.
	var prev int64
	for i, ev := range got {
		if ev.Object.Revision < prev {
			t.Errorf("event %d out of order: got revision %d after %d", i, ev.Object.Revision, prev)
		}
		prev = ev.Object.Revision
	}

	// After a Resync the watcher keeps receiving new commits.
	create(t, s, "counter", "after")
	if ev := recv(t, slow); ev.Object.Key != "after" {
		t.Errorf("event after resync: got %s, want PUT of after", fmtEvent(ev))
	}
}

func testWatchCancel(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx)
	create(t, s, "user", "u1") // left unread
	cancel()
	deadline := time.After(eventTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				// Commits keep working without the watcher.
				create(t, s, "user", "u2")
				return
			}
		case <-deadline:
			t.Fatalf("watch channel not closed within %s of cancel", eventTimeout)
		}
	}
}

// testConcurrentCounter increments one object from many goroutines. Half
// of them read outside the transaction and rely on compare-and-swap (and
// retry on ErrConflict); the others read inside the transaction.
func testConcurrentCounter(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	ctx := context.Background()
	create(t, s, "counter", "n")
	if err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("counter", "n", []byte("0"), store.AnyRevision)
		return err
	}); err != nil {
		t.Fatalf("reset counter: %v", err)
	}

	const workers, perWorker = 8, 15
	var (
		mu        sync.Mutex
		successes int
		conflicts int
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				for attempt := 0; ; attempt++ {
					if attempt > 10000 {
						t.Errorf("worker %d: too many conflicts", w)
						return
					}
					var err error
					if w%2 == 0 {
						err = incrementCAS(ctx, s)
					} else {
						err = incrementInTx(ctx, s)
					}
					if errors.Is(err, store.ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					mu.Lock()
					successes++
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()

	obj, err := s.Get(ctx, "counter", "n")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := strconv.Atoi(string(obj.Value))
	if err != nil {
		t.Fatalf("counter value %q: %v", obj.Value, err)
	}
	if got != successes || got != workers*perWorker {
		t.Errorf("counter: got %d, want %d successful increments (%d expected)", got, successes, workers*perWorker)
	}
	t.Logf("%d increments, %d conflicts retried", successes, conflicts)
}

func incrementCAS(ctx context.Context, s store.Store) error {
	obj, err := s.Get(ctx, "counter", "n")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(string(obj.Value))
	if err != nil {
		return err
	}
	return s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("counter", "n", []byte(strconv.Itoa(n+1)), obj.Revision)
		return err
	})
}

func incrementInTx(ctx context.Context, s store.Store) error {
	return s.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get("counter", "n")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(obj.Value))
		if err != nil {
			return err
		}
		_, err = tx.Put("counter", "n", []byte(strconv.Itoa(n+1)), obj.Revision)
		return err
	})
}

func testContext(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	create(t, s, "user", "u")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	ops := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "user", "u"); return err }},
		{"List", func() error { _, err := s.List(ctx, "user"); return err }},
		{"Revision", func() error { _, err := s.Revision(ctx); return err }},
		{"Update", func() error {
			return s.Update(ctx, func(tx store.Tx) error { called = true; return nil })
		}},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want %v", err, context.Canceled)
			}
		})
	}
	if called {
		t.Errorf("Update ran fn with a cancelled context")
	}

	t.Run("UpdateWaitingForWriter", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		holder := make(chan error, 1)
		go func() {
			holder <- s.Update(context.Background(), func(tx store.Tx) error {
				close(started)
				<-release
				return nil
			})
		}()
		<-started
		wctx, wcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer wcancel()
		err := s.Update(wctx, func(tx store.Tx) error { return nil })
		close(release)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Update behind a running writer: got %v, want %v", err, context.DeadlineExceeded)
		}
		if err := <-holder; err != nil {
			t.Errorf("running writer: %v", err)
		}
	})
	if ch := s.Watch(ctx); ch != nil {
		select {
		case _, ok := <-ch:
			if ok {
				t.Errorf("Watch with cancelled context delivered an event")
			}
		case <-time.After(eventTimeout):
			t.Errorf("Watch with cancelled context: channel not closed")
		}
	}
}

func testTxAfterUpdate(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	var leaked store.Tx
	if err := s.Update(context.Background(), func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := leaked.Get("user", "u"); return err }},
		{"List", func() error { _, err := leaked.List("user"); return err }},
		{"Create", func() error { _, err := leaked.Create("user", "u", nil); return err }},
		{"Put", func() error { _, err := leaked.Put("user", "u", nil, store.AnyRevision); return err }},
		{"Delete", func() error { return leaked.Delete("user", "u", store.AnyRevision) }},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, store.ErrTxDone) {
				t.Errorf("got %v, want %v", err, store.ErrTxDone)
			}
		})
	}
}

func testClose(t *testing.T, newStore Factory) {
	s := newStore(t, store.Options{})
	create(t, s, "user", "u")
	ch := s.Watch(context.Background())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Errorf("watch after Close delivered an event")
		}
	case <-time.After(eventTimeout):
		t.Errorf("watch channel not closed by Close")
	}
	ctx := context.Background()
	ops := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "user", "u"); return err }},
		{"List", func() error { _, err := s.List(ctx, "user"); return err }},
		{"Revision", func() error { _, err := s.Revision(ctx); return err }},
		{"Update", func() error { return s.Update(ctx, func(tx store.Tx) error { return nil }) }},
	}
	for _, tc := range ops {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("got %v, want %v", err, store.ErrClosed)
			}
		})
	}
	if _, ok := <-s.Watch(ctx); ok {
		t.Errorf("Watch on a closed store delivered an event")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}
