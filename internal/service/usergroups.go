package service

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// CreateUserGroup records a user group: it is creating until the controller makes it active.
func (s *Service) CreateUserGroup(ctx context.Context, in *api.CreateUserGroupMessage) (*api.UserGroup, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserGroupId))
	if err := validRBACID("UserGroupId", id); err != nil {
		return nil, err
	}
	eng, err := userEngine(in.Engine)
	if err != nil {
		return nil, err
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	ids := lowerAll(in.UserIds)
	g := &resource.UserGroup{Region: rg, ID: id, Engine: eng, Status: resource.UserGroupCreating, UserIDs: ids, Tags: tags}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		groups, err := regionUserGroups(tx, rg)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(groups, func(o *resource.UserGroup) bool { return o.ID == id }) {
			return api.UserGroupAlreadyExistsFault("User group %s already exists.", id)
		}
		if len(groups) >= userGroupsPerRegion {
			return api.UserGroupQuotaExceededFault("You have reached the quota of %d user groups in this region.", userGroupsPerRegion)
		}
		if err := checkGroupUsers(tx, rg, eng, ids); err != nil {
			return err
		}
		if _, err := tx.Create(resource.KindUserGroup, resource.Key(rg, id), resource.Marshal(g)); err != nil {
			return err
		}
		return resource.AddEvent(tx, s.now().UTC(), 0, rg, resource.SourceUserGroup, id, "User group "+id+" created")
	})
	if err != nil {
		return nil, faultOrInternal("create user group", err)
	}
	return s.renderUserGroup(g, nil), nil
}

// checkGroupUsers holds the users of a user group of engine eng to ElastiCache's rules: they exist and are
// not being deleted, their engine suits the group's (a valkey group takes redis users too), one of them is
// named default, no two share a name, at most usersPerUserGroup.
func checkGroupUsers(tx store.Tx, rg, eng string, ids []string) error {
	if len(ids) > usersPerUserGroup {
		return api.InvalidParameterValueException("A user group holds at most %d users; %d were given.", usersPerUserGroup, len(ids))
	}
	names := map[string]string{}
	for _, id := range ids {
		u, err := lookupUser(tx, rg, id)
		if err != nil {
			return err
		}
		switch {
		case u.Status == resource.UserDeleting:
			return api.InvalidParameterValueException("User %s is being deleted.", id)
		case u.Engine != eng && !(eng == engine.EngineValkey && u.Engine == engine.EngineRedis):
			return api.InvalidParameterValueException("User %s is a %s user and cannot be in a %s user group.", id, u.Engine, eng)
		}
		if other, ok := names[u.Name]; ok {
			return api.DuplicateUserNameFault("Users %s and %s have the same user name %s; a user group holds one user per name.", other, id, u.Name)
		}
		names[u.Name] = id
	}
	if _, ok := names[resource.DefaultUserName]; !ok {
		return api.DefaultUserRequired("You must add default user to a user group.")
	}
	return nil
}

// ModifyUserGroup adds and removes users; the group is modifying until every node of its replication
// groups carries the change, and the nodes drop the connections of the users it removes.
func (s *Service) ModifyUserGroup(ctx context.Context, in *api.ModifyUserGroupMessage) (*api.UserGroup, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserGroupId))
	if err := validRBACID("UserGroupId", id); err != nil {
		return nil, err
	}
	add, remove := lowerAll(in.UserIdsToAdd), lowerAll(in.UserIdsToRemove)
	var eng string
	if in.Engine != nil {
		var err error
		if eng, err = userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	switch {
	case len(add) == 0 && len(remove) == 0 && eng == "":
		return nil, api.InvalidParameterCombinationException("No modifications were requested.")
	case slices.ContainsFunc(add, func(u string) bool { return slices.Contains(remove, u) }):
		return nil, api.InvalidParameterCombinationException("A user cannot be both added to and removed from a user group.")
	}
	var g *resource.UserGroup
	var rgs []*resource.ReplicationGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if rgs, err = groupsUsing(tx, rg, id); err != nil {
			return err
		}
		g, err = editActive(s, tx, resource.KindUserGroup, rg, id, "modified", resource.UserModifying, func(g *resource.UserGroup) error {
			return changeGroupUsers(tx, g, add, remove, eng, rgs)
		})
		return err
	})
	if err != nil {
		return nil, faultOrInternal("modify user group", err)
	}
	return s.renderUserGroup(g, groupIDs(rgs)), nil
}

// changeGroupUsers applies a ModifyUserGroup to g, checked: the users to add are not in it, those to remove
// are, the result holds to the group rules, and no IAM user joins a group that replication groups use.
func changeGroupUsers(tx store.Tx, g *resource.UserGroup, add, remove []string, eng string, rgs []*resource.ReplicationGroup) error {
	rg, id := g.Region, g.ID
	ids := slices.Clone(g.UserIDs)
	for _, u := range add {
		if slices.Contains(ids, u) {
			return api.InvalidParameterValueException("User %s is already in user group %s.", u, id)
		}
		ids = append(ids, u)
	}
	for _, u := range remove {
		i := slices.Index(ids, u)
		if i < 0 {
			return api.InvalidParameterValueException("User %s is not in user group %s.", u, id)
		}
		ids = slices.Delete(ids, i, i+1)
	}
	if eng != "" && eng != g.Engine {
		if eng != engine.EngineValkey {
			return api.InvalidParameterValueException("A user group's engine can change from redis to valkey only.")
		}
		g.Engine = eng
	}
	if err := checkGroupUsers(tx, rg, g.Engine, ids); err != nil {
		return err
	}
	for _, r := range rgs {
		if err := checkIAMUsers(tx, r, g.ID, add); err != nil {
			return err
		}
	}
	g.UserIDs, g.Pending = ids, &resource.UserGroupChange{Add: add, Remove: remove}
	return nil
}

// DeleteUserGroup marks a user group that no replication group uses deleting; the controller removes it.
func (s *Service) DeleteUserGroup(ctx context.Context, in *api.DeleteUserGroupMessage) (*api.UserGroup, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserGroupId))
	if err := validRBACID("UserGroupId", id); err != nil {
		return nil, err
	}
	var g *resource.UserGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		rgs, err := groupsUsing(tx, rg, id)
		if err != nil {
			return err
		}
		g, err = editActive(s, tx, resource.KindUserGroup, rg, id, "deleted", resource.UserDeleting, func(g *resource.UserGroup) error {
			if len(rgs) > 0 {
				return api.InvalidUserGroupStateFault("User group %s is associated with replication group %s; disassociate it first.", id, rgs[0].ID)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, faultOrInternal("delete user group", err)
	}
	return s.renderUserGroup(g, nil), nil
}

// DescribeUserGroups lists the region's user groups by id.
func (s *Service) DescribeUserGroups(ctx context.Context, in *api.DescribeUserGroupsMessage) (*api.DescribeUserGroupsResult, error) {
	groups, max, err := regionList[resource.UserGroup](ctx, s.view, "describe user groups", resource.KindUserGroup, in.MaxRecords, nil)
	if err != nil {
		return nil, err
	}
	rgs, _, err := regionList[resource.ReplicationGroup](ctx, s.view, "describe user groups", resource.KindReplicationGroup, nil, nil)
	if err != nil {
		return nil, err
	}
	if id := strings.ToLower(deref(in.UserGroupId)); id != "" {
		groups = slices.DeleteFunc(groups, func(g *resource.UserGroup) bool { return g.ID != id })
		if len(groups) == 0 {
			return nil, api.UserGroupNotFoundFault("User group %s not found.", id)
		}
	}
	slices.SortFunc(groups, func(a, b *resource.UserGroup) int { return strings.Compare(a.ID, b.ID) })
	out, next := renderPage(groups, func(g *resource.UserGroup) string { return g.ID }, in.Marker, max, func(g *resource.UserGroup) api.UserGroup {
		var using []string
		for _, r := range rgs {
			if slices.Contains(r.UserGroupIDs, g.ID) {
				using = append(using, r.ID)
			}
		}
		return *s.renderUserGroup(g, using)
	})
	return &api.DescribeUserGroupsResult{UserGroups: out, Marker: next}, nil
}

func (s *Service) renderUserGroup(g *resource.UserGroup, rgs []string) *api.UserGroup {
	out := &api.UserGroup{
		ARN: ptr(s.arn(g.Region, "usergroup", g.ID)), Engine: ptr(g.Engine), MinimumEngineVersion: ptr(minRBACVersion),
		Status: ptr(g.Status), UserGroupId: ptr(g.ID), UserIds: slices.Clone(g.UserIDs),
		ReplicationGroups: slices.Clone(rgs), ServerlessCaches: []string{},
	}
	if out.UserIds == nil {
		out.UserIds = []string{}
	}
	if out.ReplicationGroups == nil {
		out.ReplicationGroups = []string{}
	}
	if p := g.Pending; p != nil {
		out.PendingChanges = &api.UserGroupPendingChanges{UserIdsToAdd: slices.Clone(p.Add), UserIdsToRemove: slices.Clone(p.Remove)}
	}
	return out
}

// groupsUsing are region rg's replication groups associated with user group id.
func groupsUsing(tx store.Tx, rg, id string) ([]*resource.ReplicationGroup, error) {
	rgs, err := resource.InRegion[resource.ReplicationGroup](tx.List, resource.KindReplicationGroup, rg)
	return slices.DeleteFunc(rgs, func(r *resource.ReplicationGroup) bool { return !slices.Contains(r.UserGroupIDs, id) }), err
}

// groupIDs are the ids of rgs.
func groupIDs(rgs []*resource.ReplicationGroup) []string {
	var out []string
	for _, r := range rgs {
		out = append(out, r.ID)
	}
	return out
}

// associateUserGroups records the user groups a new replication group is created with, checked against
// its other settings: one group, in-transit encryption, no AUTH token. Groups adopting a primary cluster
// cannot take one yet.
func associateUserGroups(g *resource.ReplicationGroup, raw []string, adopting bool) error {
	ids := slices.Compact(lowerAll(raw))
	switch {
	case len(ids) == 0:
		return nil
	case len(ids) > 1:
		return api.InvalidParameterValueException("A replication group can be associated with one user group; %d were given.", len(ids))
	case !g.TransitEncryption:
		return api.InvalidParameterCombinationException("User groups require in-transit encryption: set TransitEncryptionEnabled.")
	case g.AuthToken != "":
		return api.InvalidParameterCombinationException("AuthToken and UserGroupIds cannot be given together: a replication group authenticates with one or the other.")
	case adopting:
		return api.InvalidParameterCombinationException("UserGroupIds cannot be given with PrimaryClusterId on this ecache host: associate the user group once the replication group is available.")
	}
	g.UserGroupIDs = ids
	if g.ACLSecret == "" {
		g.ACLSecret = newSecret()
	}
	return nil
}

// checkUserGroupsFor holds the user groups ids, to be associated with g, to the store's state: each exists,
// is active (or just created), has g's engine, and has no IAM user unless g is durable (ecache checks IAM
// tokens only where it proxies clients: the durable node endpoints).
func checkUserGroupsFor(tx store.Tx, rg string, g *resource.ReplicationGroup, ids []string) error {
	for _, id := range ids {
		ug, _, err := getUserGroup(tx, rg, id)
		if err != nil {
			return err
		}
		switch {
		case ug.Status != resource.UserActive && ug.Status != resource.UserGroupCreating:
			return api.InvalidUserGroupStateFault("User group %s is %s; it can be associated when it is active.", id, ug.Status)
		case ug.Engine != g.Engine:
			return api.InvalidParameterCombinationException("User group %s is for %s; replication group %s runs %s.", id, ug.Engine, g.ID, g.Engine)
		}
		if err := checkIAMUsers(tx, g, ug.ID, ug.UserIDs); err != nil {
			return err
		}
	}
	return nil
}

// checkIAMUsers refuses the IAM users among userIDs, of user group ugID, on replication group g (see
// iamRefused).
func checkIAMUsers(tx store.Tx, g *resource.ReplicationGroup, ugID string, userIDs []string) error {
	for _, uid := range userIDs {
		u, err := lookupUser(tx, g.Region, uid)
		if err != nil {
			return err
		}
		if u.Authentication == resource.AuthIAM {
			return iamRefused(g, ugID, uid)
		}
	}
	return nil
}

// iamRefused is the refusal of user userID of user group ugID, authenticating with IAM, on replication
// group g, or nil when g is durable: ecache checks IAM tokens only where it proxies clients, its durable
// endpoints, and the nodes of other groups are reached directly.
func iamRefused(g *resource.ReplicationGroup, ugID, userID string) error {
	if g.Durable() {
		return nil
	}
	return api.InvalidParameterCombinationException("User %s of user group %s authenticates with IAM, which ecache checks only where it proxies clients (groups with Durability sync or async); the nodes of %s are reached directly.", userID, ugID, g.ID)
}

// newSecret is a random password for ecache's own engine user.
func newSecret() string {
	return rand.Text()
}

// changeUserGroups associates user groups with g or takes them away (ModifyReplicationGroup). A group
// with an AUTH token moves to a user group with AuthTokenUpdateStrategy DELETE, and back with an AuthToken
// (or to no authentication), as ElastiCache documents the migration both ways.
func (s *Service) changeUserGroups(tx store.Tx, g *resource.ReplicationGroup, in *api.ModifyReplicationGroupMessage) error {
	add, remove := slices.Compact(lowerAll(in.UserGroupIdsToAdd)), lowerAll(in.UserGroupIdsToRemove)
	if deref(in.RemoveUserGroups) {
		remove = append(remove, g.UserGroupIDs...)
	}
	ids := slices.Clone(g.UserGroupIDs)
	for _, id := range remove {
		if !slices.Contains(ids, id) {
			if _, _, err := getUserGroup(tx, g.Region, id); err != nil {
				return err
			}
			return api.InvalidParameterValueException("User group %s is not associated with replication group %s.", id, g.ID)
		}
		ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
	}
	for _, id := range add {
		if slices.Contains(ids, id) {
			return api.InvalidParameterValueException("User group %s is already associated with replication group %s.", id, g.ID)
		}
		ids = append(ids, id)
	}
	strategy := strings.ToUpper(deref(in.AuthTokenUpdateStrategy))
	token := g.AuthToken
	switch {
	case len(ids) > 1:
		return api.InvalidParameterValueException("A replication group can be associated with one user group.")
	case len(add) > 0 && !g.TransitEncryption:
		return api.InvalidParameterCombinationException("User groups require in-transit encryption on replication group %s.", g.ID)
	case len(add) > 0 && g.AuthToken != "" && strategy != "DELETE":
		return api.InvalidParameterCombinationException("Replication group %s has an AUTH token: move it to a user group with AuthTokenUpdateStrategy DELETE.", g.ID)
	case len(ids) > 0 && in.AuthToken != nil:
		return api.InvalidParameterCombinationException("AuthToken and user groups cannot be used together.")
	case len(ids) > 0:
		token = ""
	case in.AuthToken != nil:
		if err := validAuthToken(*in.AuthToken); err != nil {
			return err
		}
		token = *in.AuthToken
	}
	if err := checkUserGroupsFor(tx, g.Region, g, add); err != nil {
		return err
	}
	if g.ACLSecret == "" {
		g.ACLSecret = newSecret()
	}
	g.UserGroupIDs, g.UserGroupsPending, g.Status = ids, &resource.UserGroupChange{Add: add, Remove: remove}, resource.StatusModifying
	if token != g.AuthToken {
		now := s.now().UTC()
		g.AuthToken, g.AuthTokenUpdatedAt = token, &now
	}
	return updateMembers(tx, g, func(c *resource.Cluster) error {
		c.ACLSecret, c.AuthToken, c.PreviousAuthToken, c.AuthTokenUpdatedAt = g.MemberACLSecret(), g.AuthToken, "", g.AuthTokenUpdatedAt
		return nil
	})
}
