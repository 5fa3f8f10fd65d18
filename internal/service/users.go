package service

import (
	"context"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Users and user groups (role-based access control). A user is an engine ACL user; a user group is the
// set of users a replication group's engines carry (see internal/controller's acl.go). The region's
// built-in default user is never stored.

const (
	// usersPerRegion, userGroupsPerRegion and usersPerUserGroup are ElastiCache's quotas.
	usersPerRegion      = 1000
	userGroupsPerRegion = 100
	usersPerUserGroup   = 100
	minPasswordLen      = 16
	maxPasswordLen      = 128
	maxPasswords        = 2
	// minRBACVersion is the oldest engine version with ACL users (Redis OSS 6.0; Valkey has them all).
	minRBACVersion = "6.0"
)

// ReservedUserName is ecache's own engine user on the nodes of groups with a user group: the controller
// and the replicas authenticate as it. No ElastiCache user may take the name.
const ReservedUserName = resource.ControlUserName

// userEngine checks an Engine member (valkey or redis, any case) and returns it lowercase.
func userEngine(raw *string) (string, error) {
	e := strings.ToLower(deref(raw))
	if e != engine.EngineValkey && e != engine.EngineRedis {
		return "", api.InvalidParameterValueException("Engine %q is not valid: users and user groups are for valkey or redis.", deref(raw))
	}
	return e, nil
}

// validRBACID applies the model's pattern for user and user group ids: a letter, then letters,
// digits and hyphens.
func validRBACID(param, id string) error {
	if id == "" {
		return api.InvalidParameterValueException("The parameter %s must be provided and must not be blank.", param)
	}
	if !isLetter(id[0]) || len(id) > maxARNResourceIDLen || !lettersDigitsHyphens(id) {
		return api.InvalidParameterValueException("The parameter %s is not valid: it must begin with a letter and contain only ASCII letters, digits and hyphens.", param)
	}
	return nil
}

// validPasswords applies ElastiCache's password rules: one or two, 16 to 128 printable characters, none
// of , " / @.
func validPasswords(pws []string) error {
	if len(pws) == 0 || len(pws) > maxPasswords {
		return api.InvalidParameterValueException("A user has one or two passwords; %d were given.", len(pws))
	}
	for _, pw := range pws {
		if len(pw) < minPasswordLen || len(pw) > maxPasswordLen {
			return api.InvalidParameterValueException("Passwords must be between %d and %d characters long.", minPasswordLen, maxPasswordLen)
		}
		for i := 0; i < len(pw); i++ {
			if c := pw[i]; c < 0x20 || c > 0x7e || strings.IndexByte(`,"/@`, c) >= 0 {
				return api.InvalidParameterValueException(`Passwords must contain only printable ASCII characters other than , " / and @.`)
			}
		}
	}
	return nil
}

// validAccessString checks an access string rule by rule: the engines' ACL rules except those that set
// passwords or reset the user, naming only commands and categories every engine here knows.
func validAccessString(s string) error {
	if strings.TrimSpace(s) == "" {
		return api.InvalidParameterValueException("The parameter AccessString must be provided and must not be blank.")
	}
	return validAccessRules(resource.AccessRules(s), false)
}

func validAccessRules(rules []string, inSelector bool) error {
	for _, r := range rules {
		if err := validAccessRule(r, inSelector); err != nil {
			return err
		}
	}
	return nil
}

func validAccessRule(r string, inSelector bool) error {
	bad := func(why string) error {
		return api.InvalidParameterValueException("Access string contains an invalid rule %q: %s.", r, why)
	}
	switch r {
	case "on", "off", "clearselectors":
		if inSelector {
			return bad("not allowed inside a selector")
		}
		return nil
	case "allkeys", "resetkeys", "allchannels", "resetchannels", "allcommands", "nocommands":
		return nil
	case "nopass", "resetpass", "reset":
		return bad("passwords are set with the Passwords and NoPasswordRequired parameters")
	}
	switch {
	case strings.HasPrefix(r, "(") && strings.HasSuffix(r, ")") && len(r) > 2:
		if inSelector {
			return bad("selectors do not nest")
		}
		return validAccessRules(resource.AccessRules(r[1:len(r)-1]), true)
	case strings.HasPrefix(r, ">"), strings.HasPrefix(r, "<"), strings.HasPrefix(r, "#"), strings.HasPrefix(r, "!"):
		return bad("passwords are set with the Passwords and NoPasswordRequired parameters")
	case strings.HasPrefix(r, "~"), strings.HasPrefix(r, "&"):
		if len(r) == 1 {
			return bad("a pattern is missing")
		}
		return nil
	case strings.HasPrefix(r, "%"):
		perm, pattern, ok := strings.Cut(r[1:], "~")
		if !ok || pattern == "" || perm == "" || strings.Trim(strings.ToUpper(perm), "RW") != "" {
			return bad("key permissions are %R~, %W~ or %RW~ followed by a pattern")
		}
		return nil
	case strings.HasPrefix(r, "+@"), strings.HasPrefix(r, "-@"):
		if !engine.ACLCategory(r[2:]) {
			return bad("unknown command category")
		}
		return nil
	case strings.HasPrefix(r, "+"), strings.HasPrefix(r, "-"):
		if !engine.ACLCommand(r[1:]) {
			return bad("unknown command")
		}
		return nil
	}
	return bad("not an access rule")
}

// authentication resolves the ways a Create/ModifyUser may give a user's authentication: AuthenticationMode,
// or Passwords, or NoPasswordRequired. given is false when none was.
type authentication struct {
	kind   string
	hashes []string
	given  bool
}

func userAuthentication(mode *api.AuthenticationMode, passwords []string, noPassword *bool) (authentication, error) {
	var a authentication
	switch {
	case mode != nil && (len(passwords) > 0 || noPassword != nil):
		return a, api.InvalidParameterCombinationException("AuthenticationMode cannot be combined with Passwords or NoPasswordRequired.")
	case mode != nil:
		a.given, a.kind = true, deref(mode.Type)
		switch a.kind {
		case "password":
			a.kind = resource.AuthPassword
			if err := validPasswords(mode.Passwords); err != nil {
				return a, err
			}
			passwords = mode.Passwords
		case "no-password-required":
			a.kind = resource.AuthNoPassword
		case "iam":
			a.kind = resource.AuthIAM
		default:
			return a, api.InvalidParameterValueException("AuthenticationMode Type %q is not valid: password, no-password-required or iam.", a.kind)
		}
		if a.kind != resource.AuthPassword && len(mode.Passwords) > 0 {
			return a, api.InvalidParameterCombinationException("Passwords are only given with AuthenticationMode Type password.")
		}
	case len(passwords) > 0 && deref(noPassword):
		return a, api.InvalidParameterCombinationException("Passwords cannot be given with NoPasswordRequired true.")
	case len(passwords) > 0:
		if err := validPasswords(passwords); err != nil {
			return a, err
		}
		a.given, a.kind = true, resource.AuthPassword
	case deref(noPassword):
		a.given, a.kind = true, resource.AuthNoPassword
	}
	for _, pw := range passwords {
		a.hashes = append(a.hashes, resource.HashPassword(pw))
	}
	return a, nil
}

// CreateUser records a user of the caller's region.
func (s *Service) CreateUser(ctx context.Context, in *api.CreateUserMessage) (*api.User, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserId))
	if err := validRBACID("UserId", id); err != nil {
		return nil, err
	}
	name := deref(in.UserName)
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter UserName must be provided and must not be blank.")
	}
	if name == ReservedUserName {
		return nil, api.InvalidParameterValueException("The user name %s is reserved for ecache's own use on the nodes.", name)
	}
	eng, err := userEngine(in.Engine)
	if err != nil {
		return nil, err
	}
	if err := validAccessString(deref(in.AccessString)); err != nil {
		return nil, err
	}
	auth, err := userAuthentication(in.AuthenticationMode, in.Passwords, in.NoPasswordRequired)
	if err != nil {
		return nil, err
	}
	switch {
	case !auth.given:
		return nil, api.InvalidParameterCombinationException("A user needs at least one password, or NoPasswordRequired true, or an AuthenticationMode.")
	case auth.kind == resource.AuthIAM && id != name:
		return nil, api.InvalidParameterValueException("A user with IAM authentication must have a UserId equal to its UserName.")
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	u := &resource.User{Region: rg, ID: id, Name: name, Engine: eng, AccessString: resource.NormalizeAccessString(deref(in.AccessString)),
		Authentication: auth.kind, PasswordHashes: auth.hashes, Status: resource.UserActive, Tags: tags}
	if auth.kind == resource.AuthIAM {
		u.IAMSecret = newSecret()
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		users, err := regionUsers(tx, rg)
		if err != nil {
			return err
		}
		if id == resource.DefaultUserID || slices.ContainsFunc(users, func(o *resource.User) bool { return o.ID == id }) {
			return api.UserAlreadyExistsFault("User %s already exists.", id)
		}
		if name != resource.DefaultUserName && slices.ContainsFunc(users, func(o *resource.User) bool { return o.Name == name }) {
			return api.DuplicateUserNameFault("A user with the user name %s already exists.", name)
		}
		if len(users) >= usersPerRegion {
			return api.UserQuotaExceededFault("You have reached the quota of %d users in this region.", usersPerRegion)
		}
		if _, err := tx.Create(resource.KindUser, resource.Key(rg, id), resource.Marshal(u)); err != nil {
			return err
		}
		return resource.AddEvent(tx, s.now().UTC(), 0, rg, resource.SourceUser, id, "User "+id+" created")
	})
	if err != nil {
		return nil, faultOrInternal("create user", err)
	}
	return s.renderUser(u, nil), nil
}

// ModifyUser changes a user's access string or authentication; the nodes of every replication group whose
// user group holds it apply the change, keeping its connections.
func (s *Service) ModifyUser(ctx context.Context, in *api.ModifyUserMessage) (*api.User, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserId))
	if id == resource.DefaultUserID {
		return nil, api.InvalidParameterValueException("The default user cannot be modified; create a user named default and put it in your user groups instead.")
	}
	switch {
	case in.AccessString != nil && in.AppendAccessString != nil:
		return nil, api.InvalidParameterCombinationException("AccessString and AppendAccessString cannot be given together.")
	case in.AccessString != nil:
		if err := validAccessString(*in.AccessString); err != nil {
			return nil, err
		}
	case in.AppendAccessString != nil:
		if err := validAccessString(*in.AppendAccessString); err != nil {
			return nil, err
		}
	}
	auth, err := userAuthentication(in.AuthenticationMode, in.Passwords, in.NoPasswordRequired)
	if err != nil {
		return nil, err
	}
	var eng string
	if in.Engine != nil {
		if eng, err = userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	if in.AccessString == nil && in.AppendAccessString == nil && !auth.given && in.Engine == nil {
		return nil, api.InvalidParameterCombinationException("No modifications were requested.")
	}
	var u *resource.User
	var groups []string
	err = s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if groups, err = userGroupsOf(tx, rg, id); err != nil {
			return err
		}
		u, err = editActive(s, tx, resource.KindUser, rg, id, "modified", resource.UserModifying, func(u *resource.User) error {
			if err := modifyUser(u, in, auth, eng); err != nil {
				return err
			}
			return iamWhereProxied(tx, rg, u, groups)
		})
		return err
	})
	if err != nil {
		return nil, faultOrInternal("modify user", err)
	}
	return s.renderUser(u, groups), nil
}

// modifyUser applies a ModifyUser's checked changes to u.
func modifyUser(u *resource.User, in *api.ModifyUserMessage, auth authentication, eng string) error {
	if auth.kind == resource.AuthIAM && u.ID != u.Name {
		return api.InvalidParameterValueException("A user with IAM authentication must have a UserId equal to its UserName.")
	}
	switch {
	case in.AccessString != nil:
		u.AccessString = resource.NormalizeAccessString(*in.AccessString)
	case in.AppendAccessString != nil:
		u.AccessString = resource.NormalizeAccessString(u.AccessString + " " + *in.AppendAccessString)
	}
	if auth.given {
		u.Authentication, u.PasswordHashes = auth.kind, auth.hashes
		if auth.kind != resource.AuthIAM {
			u.IAMSecret = ""
		} else if u.IAMSecret == "" {
			u.IAMSecret = newSecret()
		}
	}
	if eng != "" {
		u.Engine = eng
	}
	return nil
}

// DeleteUser marks a user deleting: it leaves every user group it is in (and their nodes drop its
// connections), then the controller removes it. A user named default cannot leave a group that needs it.
func (s *Service) DeleteUser(ctx context.Context, in *api.DeleteUserMessage) (*api.User, error) {
	rg := region(ctx)
	id := strings.ToLower(deref(in.UserId))
	if err := validRBACID("UserId", id); err != nil {
		return nil, err
	}
	var u *resource.User
	var groups []string
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if groups, err = userGroupsOf(tx, rg, id); err != nil {
			return err
		}
		if id == resource.DefaultUserID {
			if len(groups) > 0 {
				return api.DefaultUserAssociatedToUserGroupFault("The default user is in user group %s.", groups[0])
			}
			return api.InvalidParameterValueException("The default user cannot be deleted.")
		}
		u, err = editActive(s, tx, resource.KindUser, rg, id, "deleted", resource.UserDeleting, func(u *resource.User) error {
			if u.Name == resource.DefaultUserName && len(groups) > 0 {
				return api.DefaultUserAssociatedToUserGroupFault("User %s is the default user of user group %s; put another default user in its place first.", id, groups[0])
			}
			for _, gid := range groups {
				if err := leaveUserGroup(tx, rg, gid, id); err != nil {
					return err
				}
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, faultOrInternal("delete user", err)
	}
	return s.renderUser(u, groups), nil
}

// leaveUserGroup takes user out of user group gid as a ModifyUserGroup would.
func leaveUserGroup(tx store.Tx, rg, gid, user string) error {
	g, obj, err := getUserGroup(tx, rg, gid)
	if err != nil {
		return err
	}
	g.UserIDs = slices.DeleteFunc(g.UserIDs, func(u string) bool { return u == user })
	if g.Pending == nil {
		g.Pending = &resource.UserGroupChange{}
	}
	g.Pending.Remove = append(g.Pending.Remove, user)
	g.Status = resource.UserModifying
	_, err = tx.Put(resource.KindUserGroup, obj.Key, resource.Marshal(g), obj.Revision)
	return err
}

// DescribeUsers lists the region's users, the built-in default user first among them by id.
func (s *Service) DescribeUsers(ctx context.Context, in *api.DescribeUsersMessage) (*api.DescribeUsersResult, error) {
	rg := region(ctx)
	var ids []string
	for _, f := range in.Filters {
		if deref(f.Name) != "user-id" {
			return nil, api.InvalidParameterValueException("Filter name %q is not valid: user-id is.", deref(f.Name))
		}
		if len(f.Values) == 0 {
			return nil, api.InvalidParameterValueException("Filter user-id needs at least one value.")
		}
		for _, v := range f.Values {
			ids = append(ids, strings.ToLower(v))
		}
	}
	var eng string
	if in.Engine != nil {
		var err error
		if eng, err = userEngine(in.Engine); err != nil {
			return nil, err
		}
	}
	id := strings.ToLower(deref(in.UserId))
	wanted := func(u *resource.User) bool {
		return (id == "" || u.ID == id) && (eng == "" || u.Engine == eng) && (ids == nil || slices.Contains(ids, u.ID))
	}
	users, max, err := regionList(ctx, s.view, "describe users", resource.KindUser, in.MaxRecords, wanted)
	if err != nil {
		return nil, err
	}
	groups, _, err := regionList[resource.UserGroup](ctx, s.view, "describe users", resource.KindUserGroup, nil, nil)
	if err != nil {
		return nil, err
	}
	if def := resource.BuiltinDefaultUser(rg, engine.EngineRedis); wanted(def) {
		users = append(users, def)
	}
	if id != "" && len(users) == 0 {
		return nil, api.UserNotFoundFault("User %s not found.", id)
	}
	slices.SortFunc(users, func(a, b *resource.User) int { return strings.Compare(a.ID, b.ID) })
	out, next := renderPage(users, func(u *resource.User) string { return u.ID }, in.Marker, max, func(u *resource.User) api.User {
		return *s.renderUser(u, memberOf(groups, u.ID))
	})
	return &api.DescribeUsersResult{Users: out, Marker: next}, nil
}

// memberOf are the ids of the groups that hold user.
func memberOf(groups []*resource.UserGroup, user string) []string {
	var out []string
	for _, g := range groups {
		if slices.Contains(g.UserIDs, user) {
			out = append(out, g.ID)
		}
	}
	return out
}

func (s *Service) renderUser(u *resource.User, groups []string) *api.User {
	out := &api.User{
		ARN: ptr(s.arn(u.Region, "user", u.ID)), AccessString: ptr(u.AccessString), Engine: ptr(u.Engine),
		MinimumEngineVersion: ptr(minRBACVersion), Status: ptr(u.Status), UserGroupIds: slices.Clone(groups),
		UserId: ptr(u.ID), UserName: ptr(u.Name),
		Authentication: &api.Authentication{Type: ptr(u.Authentication), PasswordCount: ptr(int32(len(u.PasswordHashes)))},
	}
	if out.UserGroupIds == nil {
		out.UserGroupIds = []string{}
	}
	return out
}

// getUser reads a stored user.
func getUser(tx store.Tx, rg, id string) (*resource.User, store.Object, error) {
	return getRecord[resource.User](tx, resource.KindUser, resource.Key(rg, id), func() error {
		return api.UserNotFoundFault("User %s not found.", id)
	})
}

// getUserGroup reads a stored user group.
func getUserGroup(tx store.Tx, rg, id string) (*resource.UserGroup, store.Object, error) {
	return getRecord[resource.UserGroup](tx, resource.KindUserGroup, resource.Key(rg, id), func() error {
		return api.UserGroupNotFoundFault("User group %s not found.", id)
	})
}

// regionUsers are the stored users of region rg.
func regionUsers(tx store.Tx, rg string) ([]*resource.User, error) {
	return resource.InRegion[resource.User](tx.List, resource.KindUser, rg)
}

// regionUserGroups are the user groups of region rg.
func regionUserGroups(tx store.Tx, rg string) ([]*resource.UserGroup, error) {
	return resource.InRegion[resource.UserGroup](tx.List, resource.KindUserGroup, rg)
}

// userGroupsOf are the ids of region rg's user groups that hold user id.
func userGroupsOf(tx store.Tx, rg, id string) ([]string, error) {
	groups, err := regionUserGroups(tx, rg)
	if err != nil {
		return nil, err
	}
	return memberOf(groups, id), nil
}

// lookupUser is a user of region rg by id: the built-in default user or a stored one.
func lookupUser(tx store.Tx, rg, id string) (*resource.User, error) {
	if id == resource.DefaultUserID {
		return resource.BuiltinDefaultUser(rg, engine.EngineRedis), nil
	}
	u, _, err := getUser(tx, rg, id)
	return u, err
}

// editActive changes the active user or user group id of region rg (kind) inside tx: fn edits it, it takes
// status, and it is written back with the event "<User|User group> <id> <verb>". One that is not active is
// InvalidUserState or InvalidUserGroupState.
func editActive[T any, P interface {
	*T
	StatusRef() *string
}](s *Service, tx store.Tx, kind, rg, id, verb, status string, fn func(P) error) (P, error) {
	noun, source, notFound, busy := "User", resource.SourceUser, api.UserNotFoundFault, api.InvalidUserStateFault
	if kind == resource.KindUserGroup {
		noun, source, notFound, busy = "User group", resource.SourceUserGroup, api.UserGroupNotFoundFault, api.InvalidUserGroupStateFault
	}
	v, obj, err := getRecord[T](tx, kind, resource.Key(rg, id), func() error { return notFound("%s %s not found.", noun, id) })
	if err != nil {
		return nil, err
	}
	p := P(v)
	if now := *p.StatusRef(); now != resource.UserActive {
		return nil, busy("%s %s is %s; it can be %s when it is active.", noun, id, now, verb)
	}
	if err := fn(p); err != nil {
		return nil, err
	}
	*p.StatusRef() = status
	if _, err := tx.Put(kind, obj.Key, resource.Marshal(v), obj.Revision); err != nil {
		return nil, err
	}
	return p, resource.AddEvent(tx, s.now().UTC(), 0, rg, source, id, noun+" "+id+" "+verb)
}

// iamWhereProxied refuses IAM authentication for u while one of its user groups is associated with a
// replication group whose nodes clients reach directly (see iamRefused).
func iamWhereProxied(tx store.Tx, rg string, u *resource.User, groups []string) error {
	if u.Authentication != resource.AuthIAM {
		return nil
	}
	for _, gid := range groups {
		rgs, err := groupsUsing(tx, rg, gid)
		if err != nil {
			return err
		}
		for _, r := range rgs {
			if err := iamRefused(r, gid, u.ID); err != nil {
				return err
			}
		}
	}
	return nil
}
