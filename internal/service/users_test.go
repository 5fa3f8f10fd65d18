package service

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const testPassword = "a-password-of-20-chars"

func createUser(t *testing.T, s *Service, id, name, access string) {
	t.Helper()
	in := &api.CreateUserMessage{UserId: ptr(id), UserName: ptr(name), Engine: ptr("valkey"), AccessString: ptr(access), Passwords: []string{testPassword}}
	if _, err := s.CreateUser(context.Background(), in); err != nil {
		t.Fatalf("create user %s: %v", id, err)
	}
}

// activate sets the status of the stored user or user group kind/key to active, as the controller does.
func activate(t *testing.T, st store.Store, kind, key string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		obj, err := tx.Get(kind, key)
		if err != nil {
			return err
		}
		s := strings.Replace(string(obj.Value), `"status":"creating"`, `"status":"active"`, 1)
		s = strings.Replace(s, `"status":"modifying"`, `"status":"active"`, 1)
		_, err = tx.Put(kind, key, []byte(s), obj.Revision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func withUsersAndGroup(t *testing.T, s *Service, st store.Store) {
	createUser(t, s, "app", "app", "on ~app:* +@read")
	createUser(t, s, "locked", "default", "off")
	createUser(t, s, "redisuser", "redisuser", "on ~* +@all")
	if _, err := s.CreateUserGroup(context.Background(), &api.CreateUserGroupMessage{UserGroupId: ptr("grp"), Engine: ptr("valkey"), UserIds: []string{"locked", "app"}}); err != nil {
		t.Fatal(err)
	}
	activate(t, st, resource.KindUserGroup, resource.Key("us-east-1", "grp"))
}

func TestUserRules(t *testing.T) {
	createIn := func(mod func(*api.CreateUserMessage)) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			in := &api.CreateUserMessage{UserId: ptr("u1"), UserName: ptr("u1"), Engine: ptr("valkey"), AccessString: ptr("on ~* +@all"), Passwords: []string{testPassword}}
			mod(in)
			_, err := s.CreateUser(ctx, in)
			return err
		}
	}
	modify := func(in *api.ModifyUserMessage) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error { _, err := s.ModifyUser(ctx, in); return err }
	}
	groupIn := func(id string, users ...string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			_, err := s.CreateUserGroup(ctx, &api.CreateUserGroupMessage{UserGroupId: ptr(id), Engine: ptr("valkey"), UserIds: users})
			return err
		}
	}
	modifyGroup := func(in *api.ModifyUserGroupMessage) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error { _, err := s.ModifyUserGroup(ctx, in); return err }
	}
	const cu, mu, du, cg, mg, dg = "CreateUser", "ModifyUser", "DeleteUser", "CreateUserGroup", "ModifyUserGroup", "DeleteUserGroup"
	runGroupRules(t, []groupRule{
		{name: "short password", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.Passwords = []string{"short"} }), fault: "InvalidParameterValueException", msg: "between 16 and 128"},
		{name: "three passwords", op: cu, call: createIn(func(in *api.CreateUserMessage) {
			in.Passwords = []string{testPassword, testPassword + "1", testPassword + "2"}
		}), fault: "InvalidParameterValueException", msg: "one or two"},
		{name: "password with @", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.Passwords = []string{"pass@word-0123456789"} }), fault: "InvalidParameterValueException", msg: "printable"},
		{name: "no password", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.Passwords = nil }), fault: "InvalidParameterCombinationException", msg: "NoPasswordRequired"},
		{name: "password and no password", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.NoPasswordRequired = ptr(true) }), fault: "InvalidParameterCombinationException", msg: "NoPasswordRequired"},
		{name: "unknown engine", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.Engine = ptr("memcached") }), fault: "InvalidParameterValueException", msg: "valkey or redis"},
		{name: "password in the access string", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.AccessString = ptr("on >secret ~*") }), fault: "InvalidParameterValueException", msg: ">secret"},
		{name: "unknown command", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.AccessString = ptr("on ~* +nosuchcommand") }), fault: "InvalidParameterValueException", msg: "unknown command"},
		{name: "unknown category", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.AccessString = ptr("on ~* +@nosuch") }), fault: "InvalidParameterValueException", msg: "category"},
		{name: "bad user id", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.UserId = ptr("1abc") }), fault: "InvalidParameterValueException", msg: "UserId"},
		{name: "the default id", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.UserId = ptr("default") }), fault: "UserAlreadyExistsFault", msg: "default"},
		{name: "ecache's own user name", op: cu, call: createIn(func(in *api.CreateUserMessage) { in.UserName = ptr(ReservedUserName) }), fault: "InvalidParameterValueException", msg: "reserved"},
		{name: "IAM with another name", op: cu, call: createIn(func(in *api.CreateUserMessage) {
			in.Passwords, in.UserName, in.AuthenticationMode = nil, ptr("other"), &api.AuthenticationMode{Type: ptr("iam")}
		}), fault: "InvalidParameterValueException", msg: "UserId equal"},
		{name: "taken id", setup: withUsersAndGroup, op: cu, call: createIn(func(in *api.CreateUserMessage) { in.UserId, in.UserName = ptr("app"), ptr("other") }), fault: "UserAlreadyExistsFault", msg: "app"},
		{name: "taken name", setup: withUsersAndGroup, op: cu, call: createIn(func(in *api.CreateUserMessage) { in.UserName = ptr("app") }), fault: "DuplicateUserNameFault", msg: "app"},
		{name: "modify the default user", op: mu, call: modify(&api.ModifyUserMessage{UserId: ptr("default"), AccessString: ptr("off")}), fault: "InvalidParameterValueException", msg: "default user"},
		{name: "modify nobody", op: mu, call: modify(&api.ModifyUserMessage{UserId: ptr("nobody"), AccessString: ptr("off")}), fault: "UserNotFoundFault", msg: "nobody"},
		{name: "modify nothing", setup: withUsersAndGroup, op: mu, call: modify(&api.ModifyUserMessage{UserId: ptr("app")}), fault: "InvalidParameterCombinationException", msg: "No modifications"},
		{name: "both access strings", setup: withUsersAndGroup, op: mu, call: modify(&api.ModifyUserMessage{UserId: ptr("app"), AccessString: ptr("off"), AppendAccessString: ptr("+get")}), fault: "InvalidParameterCombinationException", msg: "AppendAccessString"},
		{name: "delete the default user", op: du, call: func(ctx context.Context, s *Service) error {
			_, err := s.DeleteUser(ctx, &api.DeleteUserMessage{UserId: ptr("default")})
			return err
		}, fault: "InvalidParameterValueException", msg: "cannot be deleted"},
		{name: "delete a group's default user", setup: withUsersAndGroup, op: du, call: func(ctx context.Context, s *Service) error {
			_, err := s.DeleteUser(ctx, &api.DeleteUserMessage{UserId: ptr("locked")})
			return err
		}, fault: "DefaultUserAssociatedToUserGroupFault", msg: "grp"},
		{name: "group without default", setup: withUsersAndGroup, op: cg, call: groupIn("g2", "app"), fault: "DefaultUserRequired", msg: "default user"},
		{name: "group of an unknown user", setup: withUsersAndGroup, op: cg, call: groupIn("g2", "default", "nobody"), fault: "UserNotFoundFault", msg: "nobody"},
		{name: "two users named default", setup: withUsersAndGroup, op: cg, call: groupIn("g2", "default", "locked"), fault: "DuplicateUserNameFault", msg: "default"},
		{name: "taken group id", setup: withUsersAndGroup, op: cg, call: groupIn("grp", "default"), fault: "UserGroupAlreadyExistsFault", msg: "grp"},
		{name: "remove the group's default", setup: withUsersAndGroup, op: mg, call: modifyGroup(&api.ModifyUserGroupMessage{UserGroupId: ptr("grp"), UserIdsToRemove: []string{"locked"}}), fault: "DefaultUserRequired", msg: "default user"},
		{name: "add a member again", setup: withUsersAndGroup, op: mg, call: modifyGroup(&api.ModifyUserGroupMessage{UserGroupId: ptr("grp"), UserIdsToAdd: []string{"app"}}), fault: "InvalidParameterValueException", msg: "already"},
		{name: "modify an unknown group", op: mg, call: modifyGroup(&api.ModifyUserGroupMessage{UserGroupId: ptr("nope"), UserIdsToAdd: []string{"app"}}), fault: "UserGroupNotFoundFault", msg: "nope"},
		{name: "delete an unknown group", op: dg, call: func(ctx context.Context, s *Service) error {
			_, err := s.DeleteUserGroup(ctx, &api.DeleteUserGroupMessage{UserGroupId: ptr("nope")})
			return err
		}, fault: "UserGroupNotFoundFault", msg: "nope"},
	})
}

// TestUsersRender checks what DescribeUsers and DescribeUserGroups show: normalised access strings, the
// lowercase engine, no password, the built-in default user, group membership.
func TestUsersRender(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := context.Background()
	out, err := s.CreateUser(ctx, &api.CreateUserMessage{UserId: ptr("Objects"), UserName: ptr("objects"), Engine: ptr("REDIS"),
		AccessString: ptr("~objects:*  ~items:* ~public:*"), Passwords: []string{testPassword, testPassword + "-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(out.AccessString); got != "off ~objects:* ~items:* ~public:* -@all" {
		t.Errorf("AccessString %q", got)
	}
	if deref(out.Engine) != "redis" || deref(out.UserId) != "objects" || deref(out.Authentication.Type) != "password" || deref(out.Authentication.PasswordCount) != 2 {
		t.Errorf("user %+v %+v", out, out.Authentication)
	}
	if _, err := s.CreateUserGroup(ctx, &api.CreateUserGroupMessage{UserGroupId: ptr("g"), Engine: ptr("redis"), UserIds: []string{"default", "objects"}}); err != nil {
		t.Fatal(err)
	}
	users, err := s.DescribeUsers(ctx, &api.DescribeUsersMessage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 2 || deref(users.Users[0].UserId) != "default" || deref(users.Users[0].AccessString) != resource.DefaultAccessString ||
		deref(users.Users[0].Authentication.Type) != "no-password" || len(users.Users[1].UserGroupIds) != 1 {
		t.Errorf("DescribeUsers %+v", users.Users)
	}
	obj, err := st.Get(ctx, resource.KindUser, resource.Key("us-east-1", "objects"))
	if err != nil || strings.Contains(string(obj.Value), testPassword) {
		t.Errorf("a password is stored in the clear (or the user is missing: %v)", err)
	}
	filtered, err := s.DescribeUsers(ctx, &api.DescribeUsersMessage{Filters: []api.Filter{{Name: ptr("user-id"), Values: []string{"objects"}}}})
	if err != nil || len(filtered.Users) != 1 {
		t.Errorf("filter user-id: %v %v", filtered, err)
	}
	if _, err := s.DeleteUser(ctx, &api.DeleteUserMessage{UserId: ptr("objects")}); err != nil {
		t.Fatal(err)
	}
	groups, err := s.DescribeUserGroups(ctx, &api.DescribeUserGroupsMessage{UserGroupId: ptr("g")})
	if err != nil {
		t.Fatal(err)
	}
	if g := groups.UserGroups[0]; len(g.UserIds) != 1 || g.PendingChanges == nil || len(g.PendingChanges.UserIdsToRemove) != 1 || deref(g.Status) != "modifying" {
		t.Errorf("group after its user was deleted: %+v %+v", g, g.PendingChanges)
	}
}

// TestUserGroupQuota fills the region's quota of user groups: the next one is UserGroupQuotaExceeded,
// another region is not affected.
func TestUserGroupQuota(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	for i := range userGroupsPerRegion {
		if _, err := s.CreateUserGroup(ctx, &api.CreateUserGroupMessage{UserGroupId: ptr(fmt.Sprintf("g%d", i)), Engine: ptr("redis"), UserIds: []string{"default"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateUserGroup(ctx, &api.CreateUserGroupMessage{UserGroupId: ptr("one-more"), Engine: ptr("redis"), UserIds: []string{"default"}})
	checkGroupFault(t, "CreateUserGroup", err, "UserGroupQuotaExceededFault")
	if _, err := s.CreateUserGroup(inRegion("eu-west-1"), &api.CreateUserGroupMessage{UserGroupId: ptr("one-more"), Engine: ptr("redis"), UserIds: []string{"default"}}); err != nil {
		t.Errorf("a user group in another region: %v", err)
	}
}
