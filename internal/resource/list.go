package resource

import "github.com/ecache/ecache/internal/store"

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
