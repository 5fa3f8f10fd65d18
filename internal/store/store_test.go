package store_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/store/storetest"
)

func newBolt(t *testing.T, opts store.Options) store.Store {
	t.Helper()
	s, err := store.OpenWithOptions(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newMemory(t *testing.T, opts store.Options) store.Store {
	t.Helper()
	s := store.NewMemoryWithOptions(opts)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBoltContract(t *testing.T) {
	storetest.Run(t, newBolt)
}

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, newMemory)
}

func TestBoltPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	ctx := context.Background()

	s, err := store.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	writes := []func(tx store.Tx) error{
		func(tx store.Tx) error {
			for _, k := range []string{"c1", "c2", "c3"} {
				if _, err := tx.Create("cache-cluster", k, []byte("v1-"+k)); err != nil {
					return err
				}
			}
			_, err := tx.Create("user", "default", []byte(`{"access":"on ~* +@all"}`))
			return err
		},
		func(tx store.Tx) error {
			_, err := tx.Put("cache-cluster", "c2", []byte("v2-c2"), 1)
			return err
		},
		func(tx store.Tx) error { return tx.Delete("cache-cluster", "c3", store.AnyRevision) },
		func(tx store.Tx) error { return errors.New("discarded") },
	}
	for i, w := range writes {
		err := s.Update(ctx, w)
		if wantErr := i == len(writes)-1; (err != nil) != wantErr {
			t.Fatalf("write %d: got error %v", i, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = store.Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()

	if got, err := s.Revision(ctx); err != nil || got != 3 {
		t.Errorf("Revision after reopen: got %d (%v), want 3", got, err)
	}
	tests := []struct {
		kind, key string
		want      *store.Object // nil = must not exist
	}{
		{"cache-cluster", "c1", &store.Object{Revision: 1, Created: 1, Value: []byte("v1-c1")}},
		{"cache-cluster", "c2", &store.Object{Revision: 2, Created: 1, Value: []byte("v2-c2")}},
		{"cache-cluster", "c3", nil},
		{"user", "default", &store.Object{Revision: 1, Created: 1, Value: []byte(`{"access":"on ~* +@all"}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"/"+tc.key, func(t *testing.T) {
			got, err := s.Get(ctx, tc.kind, tc.key)
			if tc.want == nil {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get: got %v, want %v", err, store.ErrNotFound)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.Kind != tc.kind || got.Key != tc.key || got.Revision != tc.want.Revision ||
				got.Created != tc.want.Created || !bytes.Equal(got.Value, tc.want.Value) {
				t.Errorf("Get: got rev=%d created=%d value=%q, want rev=%d created=%d value=%q",
					got.Revision, got.Created, got.Value, tc.want.Revision, tc.want.Created, tc.want.Value)
			}
		})
	}
	objs, err := s.List(ctx, "cache-cluster")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(objs) != 2 || objs[0].Key != "c1" || objs[1].Key != "c2" {
		t.Errorf("List after reopen: got %d objects %v, want c1, c2", len(objs), objs)
	}

	// The revision sequence continues where it stopped.
	var obj store.Object
	err = s.Update(ctx, func(tx store.Tx) error {
		var err error
		obj, err = tx.Create("cache-cluster", "c4", nil)
		return err
	})
	if err != nil || obj.Revision != 4 {
		t.Errorf("first commit after reopen: got revision %d (%v), want 4", obj.Revision, err)
	}
	if err := s.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestBoltOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := store.OpenWithOptions(dir, store.Options{LockTimeout: timeout})
	if err == nil {
		second.Close()
		t.Fatalf("second Open of a locked database: got nil error, want %v", store.ErrLocked)
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("second Open: got %v, want %v", err, store.ErrLocked)
	}
	if want := filepath.Join(dir, store.FileName); !strings.Contains(err.Error(), want) {
		t.Errorf("error message: got %q, want it to name %s", err, want)
	}
	// bbolt polls the lock and may give up one poll interval early.
	if elapsed := time.Since(start); elapsed < timeout/2 {
		t.Errorf("second Open gave up after %s, want about %s", elapsed, timeout)
	}

	// Once the holder closes, the database opens again.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	third, err := store.OpenWithOptions(dir, store.Options{LockTimeout: timeout})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	third.Close()
}

func TestOpenNotADatabase(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, store.FileName), bytes.Repeat([]byte("garbage!"), 1024)); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenWithOptions(dir, store.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatalf("Open of a non-database file: got nil error")
	}
}
