package controller

import (
	"context"
	"errors"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// edit reads the record kind/key in one transaction and hands it to fn with the revision it was read at.
// When fn reports a change the record is written back at that revision. A missing record is left alone:
// fn is not called.
func edit[T any](ctx context.Context, st store.Store, kind, key string, fn func(tx store.Tx, v *T, rev int64) (bool, error)) error {
	return st.Update(ctx, func(tx store.Tx) error { return editTx(tx, kind, key, fn) })
}

// editTx is edit inside the transaction tx.
func editTx[T any](tx store.Tx, kind, key string, fn func(tx store.Tx, v *T, rev int64) (bool, error)) error {
	obj, err := tx.Get(kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	v, err := resource.Unmarshal[T](obj.Value)
	if err != nil {
		return err
	}
	changed, err := fn(tx, v, obj.Revision)
	if err != nil || !changed {
		return err
	}
	_, err = tx.Put(kind, key, resource.Marshal(v), obj.Revision)
	return err
}
