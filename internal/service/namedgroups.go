package service

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/view"
)

// namedKind is what the create and delete calls of the named group kinds (parameter, subnet and security
// groups) differ in; the steps they share are below.
type namedKind struct {
	kind      string // store kind
	noun      string // "cache subnet group", for internal errors
	nameParam string // the request parameter that names a group
	maxLen    int    // longest name
	quota     int    // groups per region
	// counts tells which stored records count toward the quota (nil: all).
	counts    func(store.Object) bool
	isDefault func(name string) bool
	// existsFault and fullFault are the fault constructors of a taken name and of a full region.
	existsFault, fullFault func(format string, args ...any) *api.Error
	notFound               func(name string) error
	// undeletable is the refusal to delete a built-in default group.
	undeletable func(name string) error
	// usedBy tells whether a cluster uses the group; inUse is the refusal to delete one that is used.
	usedBy func(c *resource.Cluster, name string) bool
	inUse  func(name, clusterID string) error
}

// exists is the refusal of a name that is taken.
func (k namedKind) exists(name string) error {
	return k.existsFault("%s %s already exists.", strings.ToUpper(k.noun[:1])+k.noun[1:], name)
}

// full is the refusal of a group beyond the region's quota.
func (k namedKind) full() error {
	return k.fullFault("You have reached the quota of %d %ss in this region.", k.quota, k.noun)
}

// newName checks the name of a group to create: not a default's, a valid identifier; returned lowercase.
func (k namedKind) newName(raw *string) (string, error) {
	name := strings.ToLower(deref(raw))
	if k.isDefault(name) {
		return "", k.exists(name)
	}
	return name, validIdentifier(k.nameParam, name, k.maxLen)
}

// newGroup is what every new named group has, checked.
type newGroup struct {
	name, description string
	tags              []resource.Tag
}

// checkNew checks the name (see newName), the description (given under descParam, not blank) and the tags
// of a group to create.
func (s *Service) checkNew(k namedKind, name *string, descParam string, desc *string, tags []api.Tag) (newGroup, error) {
	var g newGroup
	var err error
	if g.name, err = k.newName(name); err != nil {
		return g, err
	}
	if g.description = deref(desc); g.description == "" {
		return g, api.InvalidParameterValueException("The parameter %s must be provided and must not be blank.", descParam)
	}
	g.tags, err = validTags(tags, s.cfg.Quotas.TagsPerResource)
	return g, err
}

// storeNew stores group v named name in the caller's region, then runs then (nil: nothing) in the same
// transaction.
func (s *Service) storeNew(ctx context.Context, k namedKind, name string, v any, then func(tx store.Tx) error) error {
	rg := region(ctx)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := createNamed(tx, k.kind, rg, name, v, k.quota, k.counts, k.exists(name), k.full()); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(tx)
	})
	return faultOrInternal("create "+k.noun, err)
}

// deleteNamed removes a user group of the caller's region that no cluster uses, then runs then (nil:
// nothing) in the same transaction.
func (s *Service) deleteNamed(ctx context.Context, k namedKind, raw *string, then func(tx store.Tx) error) error {
	rg := region(ctx)
	name := strings.ToLower(deref(raw))
	if name == "" {
		return api.InvalidParameterValueException("The parameter %s must be provided.", k.nameParam)
	}
	if k.isDefault(name) {
		return k.undeletable(name)
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		obj, err := k.get(tx.Get, rg, name)
		if err != nil {
			return err
		}
		id, err := clusterUsing(tx, rg, func(c *resource.Cluster) bool { return k.usedBy(c, name) })
		if err != nil {
			return err
		}
		if id != "" {
			return k.inUse(name, id)
		}
		if err := tx.Delete(k.kind, obj.Key, obj.Revision); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(tx)
	})
	return faultOrInternal("delete "+k.noun, err)
}

// get reads the stored group of region rg named name with get (a Tx.Get or a Store.Get); a missing one is
// k.notFound.
func (k namedKind) get(get func(kind, key string) (store.Object, error), rg, name string) (store.Object, error) {
	obj, err := get(k.kind, resource.Key(rg, name))
	if errors.Is(err, store.ErrNotFound) {
		return obj, k.notFound(name)
	}
	return obj, err
}

// getNamed decodes the stored group of kind k named name and gives its revision.
func getNamed[T any](get func(kind, key string) (store.Object, error), k namedKind, rg, name string) (*T, int64, error) {
	obj, err := k.get(get, rg, name)
	if err != nil {
		return nil, 0, err
	}
	v, err := resource.Unmarshal[T](obj.Value)
	if err != nil {
		return nil, 0, err
	}
	return v, obj.Revision, nil
}

// describeNamed is the Describe* call of a named kind (parameter, subnet and security groups): the region's
// stored records beside the built-in defaults not stored, the one named when name is set (k.notFound when
// none is), sorted by name, one page rendered.
func describeNamed[T, R any](ctx context.Context, v *view.View, k namedKind, page pageRequest, defaults []*T,
	nameOf func(*T) string, name *string, render func(*T) R) ([]R, *string, error) {
	items, max, err := regionList[T](ctx, v, "describe "+k.noun+"s", k.kind, page.max, nil)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range defaults {
		if !slices.ContainsFunc(items, func(v *T) bool { return nameOf(v) == nameOf(d) }) {
			items = append(items, d)
		}
	}
	if name := strings.ToLower(deref(name)); name != "" {
		items = slices.DeleteFunc(items, func(v *T) bool { return nameOf(v) != name })
		if len(items) == 0 {
			return nil, nil, k.notFound(name)
		}
	}
	slices.SortFunc(items, func(a, b *T) int { return strings.Compare(nameOf(a), nameOf(b)) })
	out, next := renderPage(items, nameOf, page.marker, max, render)
	return out, next, nil
}

// pageRequest is the MaxRecords and Marker of a Describe* call.
type pageRequest struct {
	max    *int32
	marker *string
}
