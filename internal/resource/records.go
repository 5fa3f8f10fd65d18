package resource

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/store"
)

// Typed access to the store's records: the one place where records are decoded, edited and events written,
// for the service and the controller alike.

// List decodes every record of kind inside a transaction, in key order.
func List[T any](tx store.Tx, kind string) ([]*T, error) {
	objs, err := tx.List(kind)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(objs))
	for _, o := range objs {
		v, err := Unmarshal[T](o.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Get decodes the record kind/key inside a transaction; a missing record is store.ErrNotFound.
func Get[T any](tx store.Tx, kind, key string) (*T, store.Object, error) {
	obj, err := tx.Get(kind, key)
	if err != nil {
		return nil, obj, err
	}
	v, err := Unmarshal[T](obj.Value)
	return v, obj, err
}

// Load decodes the record kind/key as the store holds it now; a missing record is store.ErrNotFound.
func Load[T any](ctx context.Context, st store.Store, kind, key string) (*T, store.Object, error) {
	obj, err := st.Get(ctx, kind, key)
	if err != nil {
		return nil, obj, err
	}
	v, err := Unmarshal[T](obj.Value)
	return v, obj, err
}

// Edit reads the record kind/key in one transaction and hands it to fn with the revision it was read at.
// When fn reports a change the record is written back at that revision. A missing record is left alone:
// fn is not called.
func Edit[T any](ctx context.Context, st store.Store, kind, key string, fn func(tx store.Tx, v *T, rev int64) (bool, error)) error {
	return st.Update(ctx, func(tx store.Tx) error { return EditTx(tx, kind, key, fn) })
}

// EditTx is Edit inside the transaction tx.
func EditTx[T any](tx store.Tx, kind, key string, fn func(tx store.Tx, v *T, rev int64) (bool, error)) error {
	v, obj, err := Get[T](tx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	changed, err := fn(tx, v, obj.Revision)
	if err != nil || !changed {
		return err
	}
	_, err = tx.Put(kind, key, Marshal(v), obj.Revision)
	return err
}

// Event sources, as DescribeEvents names them.
const (
	SourceCacheCluster     = "cache-cluster"
	SourceReplicationGroup = "replication-group"
	SourceParameterGroup   = "cache-parameter-group"
	SourceUser             = "user"
	SourceUserGroup        = "user-group"
)

// AddEvent records an event inside tx; seq orders the events one transaction writes at the same instant.
func AddEvent(tx store.Tx, at time.Time, seq int, region, sourceType, sourceID, msg string) error {
	ev := Event{Region: region, SourceID: sourceID, SourceType: sourceType, Message: msg, Date: at}
	_, err := tx.Put(KindEvent, EventKey(region, at, seq), Marshal(ev), store.AnyRevision)
	return err
}

// InRegion decodes the records of kind in region, listed with list (a transaction's or the store's List).
func InRegion[T any](list func(kind string) ([]store.Object, error), kind, region string) ([]*T, error) {
	objs, err := list(kind)
	if err != nil {
		return nil, err
	}
	var out []*T
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, region+"/") {
			continue
		}
		v, err := Unmarshal[T](o.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
