package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/iamauth"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Role-based access control on the engines: the nodes of a replication group with a user group carry
// exactly its users as engine ACL users (nodeACL, applied by the driver at start and live), and users and
// user groups are active again once every node carries their change (aclApplied).

// nodeACL is the ACL the nodes of cl run with: nil unless cl belongs to a group with a user group.
func (c *Controller) nodeACL(ctx context.Context, cl *resource.Cluster) (*driver.ACL, error) {
	if cl.ACLSecret == "" || cl.ReplicationGroupID == "" {
		return nil, nil
	}
	g, _, found, err := load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
	if err != nil {
		return nil, err
	}
	var userGroups []string
	if found {
		userGroups = g.UserGroupIDs
	}
	return c.groupACL(ctx, cl.Region, userGroups, cl.ACLSecret, cl.Durable)
}

// groupACL is the ACL of the nodes of a group with the user groups userGroups (the first counts) and
// ecache's own user's password secret; durable nodes let every user run what their endpoint sends.
func (c *Controller) groupACL(ctx context.Context, region string, userGroups []string, secret string, durable bool) (*driver.ACL, error) {
	acl := &driver.ACL{ControlUser: resource.ControlUserName, ControlPassword: secret}
	var users []*resource.User
	if len(userGroups) > 0 {
		var err error
		if users, err = c.groupUsers(ctx, region, userGroups[0]); err != nil {
			return nil, err
		}
	}
	for _, u := range users {
		rules := u.ACLRules()
		if durable {
			// The durable endpoint sends WAIT after a client's writes on the client's own connection (and
			// DISCARD for an EXEC it refuses): every user may run them.
			rules = append(rules, durableEndpointRules...)
		}
		acl.Users = append(acl.Users, driver.ACLUser{Name: u.Name, Rules: rules})
	}
	if !slices.ContainsFunc(acl.Users, func(u driver.ACLUser) bool { return u.Name == resource.DefaultUserName }) {
		// No user group (yet): nobody but ecache gets in.
		acl.Users = append(acl.Users, driver.ACLUser{Name: resource.DefaultUserName, Rules: []string{"off", "nopass", "-@all"}})
	}
	slices.SortFunc(acl.Users, func(a, b driver.ACLUser) int { return strings.Compare(a.Name, b.Name) })
	return acl, nil
}

// durableEndpointRules are the commands a durable node's endpoint runs for its clients.
var durableEndpointRules = []string{"+wait", "+discard"}

// groupUsers are the users of user group id that are not being deleted; a missing group has none.
func (c *Controller) groupUsers(ctx context.Context, region, id string) ([]*resource.User, error) {
	ug, _, found, err := load[resource.UserGroup](ctx, c.store, resource.KindUserGroup, resource.Key(region, id))
	if err != nil || !found || ug.Status == resource.UserDeleting {
		return nil, err
	}
	var out []*resource.User
	for _, uid := range ug.UserIDs {
		if uid == resource.DefaultUserID {
			out = append(out, resource.BuiltinDefaultUser(region, ug.Engine))
			continue
		}
		u, _, found, err := load[resource.User](ctx, c.store, resource.KindUser, resource.Key(region, uid))
		if err != nil {
			return nil, err
		}
		if found && u.Status != resource.UserDeleting {
			out = append(out, u)
		}
	}
	return out, nil
}

// aclApplied reports whether every running node of replication group g carries the ACL it should.
func (c *Controller) aclApplied(ctx context.Context, g *resource.ReplicationGroup) (bool, error) {
	var want *driver.ACL
	if secret := g.MemberACLSecret(); secret != "" {
		var err error
		if want, err = c.groupACL(ctx, g.Region, g.UserGroupIDs, secret, g.Durable()); err != nil {
			return false, err
		}
	}
	for _, id := range g.MemberIDs() {
		cl, _, found, err := load[resource.Cluster](ctx, c.store, resource.KindCluster, resource.Key(g.Region, id))
		if err != nil || !found {
			return false, err
		}
		for _, n := range cl.Nodes {
			st, err := c.driver.Peek(ctx, cl.DriverID(n.ID))
			if errors.Is(err, driver.ErrUnknownNode) || (err == nil && st.State != driver.StateRunning) {
				continue // it starts with the ACL of the moment
			} else if err != nil {
				return false, err
			}
			if !st.Spec.ACL.Equal(want) {
				return false, nil
			}
		}
	}
	return true, nil
}

// groupsWith are the replication groups of region whose user group is one of ids.
func (c *Controller) groupsWith(ctx context.Context, region string, ids []string) ([]*resource.ReplicationGroup, error) {
	groups, err := resource.InRegion[resource.ReplicationGroup](c.lister(ctx), resource.KindReplicationGroup, region)
	return slices.DeleteFunc(groups, func(g *resource.ReplicationGroup) bool {
		return !slices.ContainsFunc(g.UserGroupIDs, func(id string) bool { return slices.Contains(ids, id) })
	}), err
}

// lister is the store's List for resource.InRegion.
func (c *Controller) lister(ctx context.Context) func(kind string) ([]store.Object, error) {
	return func(kind string) ([]store.Object, error) { return c.store.List(ctx, kind) }
}

// allApplied reports whether every group of region using one of the user groups ids carries its ACL.
func (c *Controller) allApplied(ctx context.Context, region string, ids []string) (bool, error) {
	groups, err := c.groupsWith(ctx, region, ids)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if ok, err := c.aclApplied(ctx, g); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// reconcileUserGroup makes a new group active, a modified one active once its replication groups' nodes
// carry the change, and removes a deleted one.
func (c *Controller) reconcileUserGroup(ctx context.Context, key string) (bool, error) {
	ug, rev, found, err := load[resource.UserGroup](ctx, c.store, resource.KindUserGroup, key)
	if err != nil || !found {
		return false, err
	}
	switch ug.Status {
	case resource.UserDeleting:
		return false, c.store.Update(ctx, func(tx store.Tx) error { return tx.Delete(resource.KindUserGroup, key, rev) })
	case resource.UserGroupCreating, resource.UserModifying:
		if ok, err := c.allApplied(ctx, ug.Region, []string{ug.ID}); err != nil || !ok {
			return true, err
		}
		return false, markActive(ctx, c.store, resource.KindUserGroup, key, rev, func(v *resource.UserGroup) { v.Pending = nil })
	}
	return false, nil
}

// reconcileUser makes a modified user active once the nodes of every group holding it carry the change,
// and removes a deleted one once it is in no group.
func (c *Controller) reconcileUser(ctx context.Context, key string) (bool, error) {
	u, rev, found, err := load[resource.User](ctx, c.store, resource.KindUser, key)
	if err != nil || !found {
		return false, err
	}
	if u.Status != resource.UserModifying && u.Status != resource.UserDeleting {
		return false, nil
	}
	ids, err := c.userGroupsOf(ctx, u)
	if err != nil {
		return false, err
	}
	if ok, err := c.allApplied(ctx, u.Region, ids); err != nil || !ok {
		return true, err
	}
	if u.Status == resource.UserDeleting {
		return false, c.store.Update(ctx, func(tx store.Tx) error { return tx.Delete(resource.KindUser, key, rev) })
	}
	return false, markActive(ctx, c.store, resource.KindUser, key, rev, func(*resource.User) {})
}

// markActive sets the user or user group kind/key active (and lets also change it) unless it changed since
// revision rev: the next pass decides then.
func markActive[T any, P interface {
	*T
	StatusRef() *string
}](ctx context.Context, st store.Store, kind, key string, rev int64, also func(P)) error {
	return resource.Edit(ctx, st, kind, key, func(_ store.Tx, v *T, r int64) (bool, error) {
		if r != rev {
			return false, nil
		}
		*P(v).StatusRef() = resource.UserActive
		also(P(v))
		return true, nil
	})
}

// userGroupsOf are the ids of the user groups that hold u.
func (c *Controller) userGroupsOf(ctx context.Context, u *resource.User) ([]string, error) {
	groups, err := resource.InRegion[resource.UserGroup](c.lister(ctx), resource.KindUserGroup, u.Region)
	var ids []string
	for _, ug := range groups {
		if slices.Contains(ug.UserIDs, u.ID) {
			ids = append(ids, ug.ID)
		}
	}
	return ids, err
}

// finishUserGroupChange ends an association change once every node of g carries the new users.
func (c *Controller) finishUserGroupChange(ctx context.Context, key string, g *resource.ReplicationGroup, rev int64) error {
	if ok, err := c.aclApplied(ctx, g); err != nil || !ok {
		return err
	}
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(tx store.Tx, v *resource.ReplicationGroup, r int64) (bool, error) {
		if r != rev {
			return false, nil
		}
		v.UserGroupsPending = nil
		return true, resource.AddEvent(tx, now, 0, v.Region, resource.SourceReplicationGroup, v.ID, "User groups of replication group "+v.ID+" updated")
	})
}

// iamPasswords is what the durable endpoints of replication group gkey do with a client's AUTH <user>
// <password>: for a user of the group's user group with IAM authentication, the password is an IAM
// authentication token for the group, checked, and the user's engine password is given in its place.
func (c *Controller) iamPasswords(gkey string) func(user, token string) (string, bool, error) {
	return func(user, token string) (string, bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g, _, found, err := load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, gkey)
		if err != nil || !found || len(g.UserGroupIDs) == 0 {
			return "", false, err
		}
		users, err := c.groupUsers(ctx, g.Region, g.UserGroupIDs[0])
		if err != nil {
			return "", false, err
		}
		for _, u := range users {
			if u.Name != user || u.Authentication != resource.AuthIAM {
				continue
			}
			if c.cfg.IAM == nil {
				return "", true, errors.New("no verifier of IAM tokens is configured")
			}
			if err := iamauth.Check(c.cfg.IAM, token, u.ID, g.ID, g.Region); err != nil {
				return "", true, err
			}
			return u.IAMSecret, true, nil
		}
		return "", false, nil
	}
}
