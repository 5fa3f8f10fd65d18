package view

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

type item struct{ Name string }

func put(t *testing.T, st store.Store, key, name string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put("item", key, resource.Marshal(item{Name: name}), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func names(rs []*Record[item]) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Key+"="+r.Value.Name)
	}
	return out
}

func list(t *testing.T, v *View, prefix string) []*Record[item] {
	t.Helper()
	rs, err := List[item](context.Background(), v, "item", prefix)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestListDecodesOnlyWhatChanged checks that a read sees every committed change at once and that an
// unchanged revision is the same shared record, with what was derived from it.
func TestListDecodesOnlyWhatChanged(t *testing.T) {
	st := store.NewMemory()
	v := New(st)
	put(t, st, "r1/a", "a1")
	put(t, st, "r1/b", "b1")
	put(t, st, "r2/a", "other")

	first := list(t, v, "r1/")
	if got := names(first); len(got) != 2 || got[0] != "r1/a=a1" || got[1] != "r1/b=b1" {
		t.Fatalf("first read: %q", got)
	}
	builds := 0
	render := func(r *Record[item]) string {
		return Derive(r, "upper", nil, func(it *item) string { builds++; return it.Name + "!" })
	}
	render(first[0])
	render(first[1])

	put(t, st, "r1/b", "b2")
	put(t, st, "r1/c", "c1")
	second := list(t, v, "r1/")
	if got := names(second); len(got) != 3 || got[1] != "r1/b=b2" || got[2] != "r1/c=c1" {
		t.Fatalf("read after writes: %q", got)
	}
	if second[0] != first[0] {
		t.Error("the unchanged record was decoded again")
	}
	if second[1] == first[1] {
		t.Error("the changed record is the old revision")
	}
	if got := render(second[0]); got != "a1!" || builds != 2 {
		t.Errorf("derived value of the unchanged record: %q after %d builds, want a1! after 2", got, builds)
	}
	if got := render(second[1]); got != "b2!" || builds != 3 {
		t.Errorf("derived value of the changed record: %q after %d builds, want b2! after 3", got, builds)
	}
	stamped := func(stamp int) string {
		return Derive(second[0], "stamped", stamp, func(it *item) string { builds++; return fmt.Sprint(it.Name, stamp) })
	}
	if stamped(1) != "a11" || stamped(1) != "a11" || stamped(2) != "a12" || builds != 5 {
		t.Errorf("stamped values: %q, %q after %d builds, want a11, a12 after 5", stamped(1), stamped(2), builds)
	}

	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.Delete("item", "r1/a", store.AnyRevision) }); err != nil {
		t.Fatal(err)
	}
	if got := names(list(t, v, "r1/")); len(got) != 2 || got[0] != "r1/b=b2" {
		t.Errorf("read after delete: %q", got)
	}
	if got := names(list(t, v, "r2/")); len(got) != 1 || got[0] != "r2/a=other" {
		t.Errorf("other prefix: %q", got)
	}
	v.mu.RLock()
	cached := len(v.kinds["item"])
	v.mu.RUnlock()
	if cached != 3 {
		t.Errorf("the view holds %d records, want the 3 that exist", cached)
	}
}

// TestListReportsCorruptRecords checks that a record that does not decode is an error, not a skip.
func TestListReportsCorruptRecords(t *testing.T) {
	st := store.NewMemory()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put("item", "r1/a", []byte("{not json"), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := List[item](context.Background(), New(st), "item", "r1/"); err == nil {
		t.Fatal("a corrupt record was listed")
	}
	st.Close()
	if _, err := List[item](context.Background(), New(st), "item", ""); !errors.Is(err, store.ErrClosed) {
		t.Errorf("closed store: %v", err)
	}
}
