package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// waitUserGroupActive waits until user group id is active and returns it.
func waitUserGroupActive(t *testing.T, c *elasticache.Client, id string) types.UserGroup {
	t.Helper()
	var g types.UserGroup
	eventually(t, 30*time.Second, "user group "+id+" active", func() error {
		out, err := c.DescribeUserGroups(ctxT(t), &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String(id)})
		if err != nil {
			return err
		}
		if g = out.UserGroups[0]; aws.ToString(g.Status) != "active" {
			return errors.New("status " + aws.ToString(g.Status))
		}
		return nil
	})
	return g
}

// waitUserActive waits until user id is active.
func waitUserActive(t *testing.T, c *elasticache.Client, id string) {
	t.Helper()
	eventually(t, 30*time.Second, "user "+id+" active", func() error {
		out, err := c.DescribeUsers(ctxT(t), &elasticache.DescribeUsersInput{UserId: aws.String(id)})
		if err != nil {
			return err
		}
		if s := aws.ToString(out.Users[0].Status); s != "active" {
			return errors.New("status " + s)
		}
		return nil
	})
}

// TestUsersEnforcedOnTheEngines is the story of role-based access control: users and a user group made
// through the API, a TLS group that carries them, and what a client may and may not do as each user on
// real engines, through access string and password changes, a user removed from the group, a failover and
// a restart of ecache.
func TestUsersEnforcedOnTheEngines(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const appPW, appPW2, tempPW = "app-password-0123456789", "app-password-second-0123", "temp-password-0123456789"
	mustUser := func(in *elasticache.CreateUserInput) {
		t.Helper()
		out, err := c.CreateUser(ctx, in)
		if err != nil {
			t.Fatalf("CreateUser %s: %v", aws.ToString(in.UserId), err)
		}
		if aws.ToString(out.Status) != "active" || aws.ToString(out.Engine) != "valkey" {
			t.Fatalf("CreateUser %s: status %s engine %s", aws.ToString(in.UserId), aws.ToString(out.Status), aws.ToString(out.Engine))
		}
	}
	mustUser(&elasticache.CreateUserInput{UserId: aws.String("app"), UserName: aws.String("app"), Engine: aws.String("VALKEY"),
		Passwords: []string{appPW}, AccessString: aws.String("on ~app:* +@read +@write -@dangerous")})
	mustUser(&elasticache.CreateUserInput{UserId: aws.String("locked-default"), UserName: aws.String("default"), Engine: aws.String("valkey"),
		AccessString: aws.String("off"), NoPasswordRequired: aws.Bool(true)})
	mustUser(&elasticache.CreateUserInput{UserId: aws.String("temp"), UserName: aws.String("temp"), Engine: aws.String("valkey"),
		Passwords: []string{tempPW}, AccessString: aws.String("on ~* +@all")})
	_, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("no-default"), Engine: aws.String("valkey"), UserIds: []string{"app"}})
	wantFault(t, "a user group without a default user", err, "DefaultUserRequired", "default user")
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("app-users"), Engine: aws.String("valkey"),
		UserIds: []string{"locked-default", "app"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "app-users")
	_, err = c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("plainrbac"), ReplicationGroupDescription: aws.String("rbac without tls"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), UserGroupIds: []string{"app-users"},
	})
	wantFault(t, "a user group without in-transit encryption", err, "InvalidParameterCombination", "in-transit encryption")
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("rbac"), ReplicationGroupDescription: aws.String("rbac"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"app-users"},
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "rbac")
	if ids := g.UserGroupIds; len(ids) != 1 || ids[0] != "app-users" || aws.ToBool(g.AuthTokenEnabled) {
		t.Fatalf("UserGroupIds %v, AuthTokenEnabled %v", ids, aws.ToBool(g.AuthTokenEnabled))
	}
	ug := waitUserGroupActive(t, c, "app-users")
	if len(ug.ReplicationGroups) != 1 || ug.ReplicationGroups[0] != "rbac" {
		t.Errorf("user group's ReplicationGroups %v, want [rbac]", ug.ReplicationGroups)
	}
	_, err = c.DeleteUserGroup(ctx, &elasticache.DeleteUserGroupInput{UserGroupId: aws.String("app-users")})
	wantFault(t, "deleting a user group in use", err, "InvalidUserGroupState", "rbac")

	pool := nodeCA(t, srv)
	primaryEP := addr(g.NodeGroups[0].PrimaryEndpoint)
	var connects atomic.Int32
	as := func(ep, user, pw string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: ep, Username: user, Password: pw, MaxRetries: -1, PoolSize: 1,
			DialTimeout: 2 * time.Second, TLSConfig: &tls.Config{RootCAs: pool},
			OnConnect: func(context.Context, *redis.Conn) error { connects.Add(1); return nil }})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	wantErr := func(what string, err error, code string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v, want %s", what, err, code)
		}
	}
	app := as(primaryEP, "app", appPW)
	if err := app.Set(ctx, "app:1", "x", 0).Err(); err != nil {
		t.Fatalf("app SET app:1: %v", err)
	}
	wantErr("app SET other:1", app.Set(ctx, "other:1", "x", 0).Err(), "NOPERM")
	wantErr("app FLUSHALL (dangerous)", app.FlushAll(ctx).Err(), "NOPERM")
	wantErr("PING as the locked default user", as(primaryEP, "", "").Ping(ctx).Err(), "NOAUTH")
	wantErr("app with a wrong password", as(primaryEP, "app", "not-the-password-0123").Ping(ctx).Err(), "WRONGPASS")
	// The replica follows its primary (as ecache's own user) and carries the same users.
	replica := addr(replicaMember(g).ReadEndpoint)
	eventually(t, 10*time.Second, "app:1 on the replica, read as app", func() error {
		return as(replica, "app", appPW).Get(ctx, "app:1").Err()
	})

	// A new access string reaches the running nodes; the user's connections stay.
	before := connects.Load()
	if _, err := c.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("app"), AccessString: aws.String("on ~app:* +@read")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "app's writes refused after ModifyUser", func() error {
		if err := app.Set(ctx, "app:2", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			return errors.New("SET app:2 answered " + errString(err))
		}
		return nil
	})
	if err := app.Get(ctx, "app:1").Err(); err != nil {
		t.Errorf("app GET after ModifyUser: %v", err)
	}
	if connects.Load() != before {
		t.Errorf("app's connection was replaced across ModifyUser (%d connects, %d before)", connects.Load(), before)
	}
	waitUserActive(t, c, "app")

	// Two passwords during a rotation: both work.
	if _, err := c.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("app"), Passwords: []string{appPW, appPW2}}); err != nil {
		t.Fatal(err)
	}
	waitUserActive(t, c, "app")
	for _, pw := range []string{appPW, appPW2} {
		if err := as(primaryEP, "app", pw).Get(ctx, "app:1").Err(); err != nil {
			t.Errorf("app with one of its two passwords: %v", err)
		}
	}

	// A user removed from the group loses its connection.
	if _, err := c.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("app-users"), UserIdsToAdd: []string{"temp"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "app-users")
	temp := as(primaryEP, "temp", tempPW)
	tempConn := temp.Conn()
	defer tempConn.Close()
	if err := tempConn.Set(ctx, "other:1", "x", 0).Err(); err != nil {
		t.Fatalf("temp SET: %v", err)
	}
	if _, err := c.ModifyUserGroup(ctx, &elasticache.ModifyUserGroupInput{UserGroupId: aws.String("app-users"), UserIdsToRemove: []string{"temp"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "app-users")
	if err := tempConn.Get(ctx, "other:1").Err(); err == nil {
		t.Error("a removed user's connection still answered")
	}
	wantErr("temp after its removal", as(primaryEP, "temp", tempPW).Ping(ctx).Err(), "WRONGPASS")

	// The users hold after a failover and after ecache restarts.
	primaryBefore := aws.ToString(primaryMember(g).CacheClusterId)
	if _, err := c.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("rbac"), NodeGroupId: aws.String("0001")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a new primary", func() error {
		if now := aws.ToString(primaryMember(waitGroupAvailable(t, c, "rbac")).CacheClusterId); now == primaryBefore {
			return errors.New("primary still " + now)
		}
		return nil
	})
	srv.kill()
	srv.start()
	checkUsers := func(when string) {
		t.Helper()
		eventually(t, 20*time.Second, "app reads at the PrimaryEndpoint "+when, func() error {
			return as(primaryEP, "app", appPW2).Get(ctx, "app:1").Err()
		})
		wantErr("app SET "+when, as(primaryEP, "app", appPW2).Set(ctx, "app:3", "x", 0).Err(), "NOPERM")
		wantErr("the locked default user "+when, as(primaryEP, "", "").Ping(ctx).Err(), "NOAUTH")
	}
	checkUsers("after a failover and a restart of ecache")

	// Terraform's order of teardown leaves nothing behind.
	if _, err := c.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("rbac")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "rbac deleted", func() error {
		_, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rbac")})
		if err == nil {
			return errors.New("still listed")
		}
		return nil
	})
	if _, err := c.DeleteUserGroup(ctx, &elasticache.DeleteUserGroupInput{UserGroupId: aws.String("app-users")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"app", "locked-default", "temp"} {
		if _, err := c.DeleteUser(ctx, &elasticache.DeleteUserInput{UserId: aws.String(id)}); err != nil {
			t.Fatalf("DeleteUser %s: %v", id, err)
		}
	}
	eventually(t, 20*time.Second, "only the default user left", func() error {
		users, err := c.DescribeUsers(ctx, &elasticache.DescribeUsersInput{})
		if err != nil {
			return err
		}
		groups, err := c.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{})
		if err != nil {
			return err
		}
		if len(users.Users) != 1 || aws.ToString(users.Users[0].UserId) != "default" || len(groups.UserGroups) != 0 {
			return errors.New("users or groups left")
		}
		return nil
	})
}

func errString(err error) string {
	if err == nil {
		return "OK"
	}
	return err.Error()
}

// replicaMember is a replica of a cluster mode disabled group.
func replicaMember(g types.ReplicationGroup) types.NodeGroupMember {
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "replica" {
			return m
		}
	}
	return types.NodeGroupMember{}
}

// TestAuthTokenToUserGroupAndBack moves a running group from an AUTH token to a user group and back, as
// ElastiCache documents it: ModifyReplicationGroup with UserGroupIdsToAdd and AuthTokenUpdateStrategy
// DELETE, then UserGroupIdsToRemove with an AuthToken; the data stays and each way's clients get in.
func TestAuthTokenToUserGroupAndBack(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token, token2, pw = "migrate-token-0123456789", "migrate-token-again-0123", "migrate-password-0123456"
	if _, err := c.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("mig"), UserName: aws.String("mig"), Engine: aws.String("valkey"),
		Passwords: []string{pw}, AccessString: aws.String("on ~* +@all")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("mig-users"), Engine: aws.String("valkey"),
		UserIds: []string{"default", "mig"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "mig-users")
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("mig"), ReplicationGroupDescription: aws.String("auth to rbac"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2),
		TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "mig")
	pool := nodeCA(t, srv)
	ep := addr(g.NodeGroups[0].PrimaryEndpoint)
	as := func(user, pass string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: ep, Username: user, Password: pass, MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: pool}})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	if err := as("", token).Set(ctx, "kept", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"),
		UserGroupIdsToAdd: []string{"mig-users"}, ApplyImmediately: aws.Bool(true)})
	wantFault(t, "a user group over an AUTH token without DELETE", err, "InvalidParameterCombination", "DELETE")
	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"),
		UserGroupIdsToAdd: []string{"mig-users"}, AuthTokenUpdateStrategy: types.AuthTokenUpdateStrategyTypeDelete, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if p := out.ReplicationGroup.PendingModifiedValues.UserGroups; p == nil || len(p.UserGroupIdsToAdd) != 1 {
		t.Errorf("PendingModifiedValues.UserGroups %+v, want mig-users to add", p)
	}
	g = waitGroupAvailable(t, c, "mig")
	if aws.ToBool(g.AuthTokenEnabled) || len(g.UserGroupIds) != 1 || g.PendingModifiedValues.UserGroups != nil {
		t.Errorf("after the move: AuthTokenEnabled %v, UserGroupIds %v, pending %+v", aws.ToBool(g.AuthTokenEnabled), g.UserGroupIds, g.PendingModifiedValues.UserGroups)
	}
	if v, err := as("mig", pw).Get(ctx, "kept").Result(); err != nil || v != "1" {
		t.Errorf("mig reads kept: %q %v", v, err)
	}
	// The group's default user is the built-in one: no password, every command.
	if err := as("", "").Ping(ctx).Err(); err != nil {
		t.Errorf("the built-in default user: %v", err)
	}
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"),
		UserGroupIdsToRemove: []string{"mig-users"}, AuthToken: aws.String(token2), AuthTokenUpdateStrategy: types.AuthTokenUpdateStrategyTypeRotate,
		ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g = waitGroupAvailable(t, c, "mig")
	if !aws.ToBool(g.AuthTokenEnabled) || len(g.UserGroupIds) != 0 {
		t.Errorf("after the move back: AuthTokenEnabled %v, UserGroupIds %v", aws.ToBool(g.AuthTokenEnabled), g.UserGroupIds)
	}
	eventually(t, 10*time.Second, "the new AUTH token at the PrimaryEndpoint", func() error {
		return as("", token2).Set(ctx, "after", "1", 0).Err()
	})
	if err := as("mig", pw).Ping(ctx).Err(); err == nil {
		t.Error("mig still gets in without the user group")
	}
	// The replica follows with the token again.
	eventually(t, 10*time.Second, "a write replicated after the move back", func() error {
		rc := redis.NewClient(&redis.Options{Addr: addr(replicaMember(g).ReadEndpoint), Password: token2, MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: pool}})
		defer rc.Close()
		return rc.Get(ctx, "after").Err()
	})
}

// TestUsersOnClusterModeGroup carries a user group onto a cluster mode enabled group: cluster-aware
// clients authenticate as a user through the configuration endpoint, a replica killed and restarted comes
// back with the users, a scale-out moves keys between nodes that only ecache's own user may MIGRATE into
// and gives the new shard the users, and a ModifyUser reaches every node.
func TestUsersOnClusterModeGroup(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const pw = "cluster-user-password-01"
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("shopper"), UserName: aws.String("shopper"), Passwords: []string{pw}, AccessString: aws.String("on ~* +@all -@dangerous")},
		{UserId: aws.String("nobody-default"), UserName: aws.String("default"), NoPasswordRequired: aws.Bool(true), AccessString: aws.String("off")},
	} {
		u.Engine = aws.String("valkey")
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("shoppers"), Engine: aws.String("valkey"),
		UserIds: []string{"nobody-default", "shopper"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "shoppers")
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("cmrbac"), ReplicationGroupDescription: aws.String("cluster mode rbac"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(2),
		ReplicasPerNodeGroup: aws.Int32(1), CacheParameterGroupName: aws.String("default.valkey8.cluster.on"),
		TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"shoppers"},
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "cmrbac")
	pool := nodeCA(t, srv)
	clients := func(user, pass string) *redis.ClusterClient {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr(g.ConfigurationEndpoint)}, Username: user, Password: pass,
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, MaxRedirects: 8, MaxRetries: 2, DialTimeout: 2 * time.Second})
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	shopper := clients("shopper", pw)
	writeClusterKeys(t, shopper, "k", 300)
	if err := shopper.FlushAll(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("shopper FLUSHALL: %v, want NOPERM", err)
	}
	if err := clients("", "").ClusterSlots(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("CLUSTER SLOTS as the locked default user: %v, want NOAUTH", err)
	}

	// A replica killed comes back with the users.
	replica := aws.ToString(g.NodeGroups[0].NodeGroupMembers[1].CacheClusterId)
	for id, pid := range enginePIDs(srv.dataDir) {
		if strings.HasPrefix(id, replica+"-") {
			killPID(t, pid)
		}
	}
	nodes, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(replica), ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	ep := addr(nodes.CacheClusters[0].CacheNodes[0].Endpoint)
	eventually(t, 30*time.Second, "the restarted replica takes shopper and refuses the default user", func() error {
		rc := redis.NewClient(&redis.Options{Addr: ep, Username: "shopper", Password: pw, MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: pool}})
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return err
		}
		anon := redis.NewClient(&redis.Options{Addr: ep, MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: pool}})
		defer anon.Close()
		if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
			return errors.New("default user: " + errString(err))
		}
		return nil
	})

	// Scale out: keys move (MIGRATE as ecache's own user), the new shard carries the users.
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("cmrbac"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	g = waitGroupAvailable(t, c, "cmrbac")
	if len(g.NodeGroups) != 3 {
		t.Fatalf("%d node groups after the scale-out", len(g.NodeGroups))
	}
	eventually(t, 20*time.Second, "every key readable as shopper after the scale-out", func() error {
		return checkClusterKeys(shopper, "k", 300)
	})

	// A ModifyUser reaches every primary: no key can be written any more.
	if _, err := c.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("shopper"), AccessString: aws.String("on ~* +@read +cluster|slots +cluster|shards")}); err != nil {
		t.Fatal(err)
	}
	waitUserActive(t, c, "shopper")
	for i := range 30 { // keys on every shard
		if err := shopper.Set(ctx, fmt.Sprintf("k%d", i), "new", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("SET k%d after the ModifyUser: %v, want NOPERM", i, err)
		}
	}
	if err := checkClusterKeys(shopper, "k", 300); err != nil {
		t.Errorf("reads after the ModifyUser: %v", err)
	}
}

// TestUsersAfterSnapshotRestore restores a snapshot of a group with a user group into a new group with the
// same user group: the restored data is there for the users, and the locked default user stays locked.
func TestUsersAfterSnapshotRestore(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const pw = "restore-user-password-0"
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("reader"), UserName: aws.String("reader"), Passwords: []string{pw}, AccessString: aws.String("on ~* +@read +@write")},
		{UserId: aws.String("closed-default"), UserName: aws.String("default"), NoPasswordRequired: aws.Bool(true), AccessString: aws.String("off")},
	} {
		u.Engine = aws.String("valkey")
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("readers"), Engine: aws.String("valkey"),
		UserIds: []string{"closed-default", "reader"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "readers")
	create := func(id string, snapshot *string) types.ReplicationGroup {
		t.Helper()
		if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true),
			UserGroupIds: []string{"readers"}, SnapshotName: snapshot,
		}); err != nil {
			t.Fatal(err)
		}
		return waitGroupAvailable(t, c, id)
	}
	pool := nodeCA(t, srv)
	as := func(g types.ReplicationGroup, user, pass string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), Username: user, Password: pass, MaxRetries: -1,
			TLSConfig: &tls.Config{RootCAs: pool}})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	src := create("src", nil)
	if err := as(src, "reader", pw).Set(ctx, "kept", "before the snapshot", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("src"), SnapshotName: aws.String("src-snap")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, "src-snap")
	dst := create("dst", aws.String("src-snap"))
	if v, err := as(dst, "reader", pw).Get(ctx, "kept").Result(); err != nil || v != "before the snapshot" {
		t.Errorf("the restored key as reader: %q %v", v, err)
	}
	if err := as(dst, "", "").Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("the locked default user on the restored group: %v, want NOAUTH", err)
	}
}

// TestUsersOnDurableGroup carries a user group onto a group with Durability sync: clients authenticate as a
// user through the durable node endpoints, whose writes are acknowledged once the log has them, the
// engines' replicas follow through the relay as ecache's own user, and the users hold after a primary is
// SIGKILLed and fails over through the log.
func TestUsersOnDurableGroup(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const pw = "durable-user-password-01"
	for _, u := range []*elasticache.CreateUserInput{
		{UserId: aws.String("writer"), UserName: aws.String("writer"), Passwords: []string{pw}, AccessString: aws.String("on ~k* ~{* +@read +@write +cluster|slots +cluster|shards")},
		{UserId: aws.String("shut-default"), UserName: aws.String("default"), NoPasswordRequired: aws.Bool(true), AccessString: aws.String("off")},
		{UserId: aws.String("iam-app"), UserName: aws.String("iam-app"), AuthenticationMode: &types.AuthenticationMode{Type: types.InputAuthenticationTypeIam},
			AccessString: aws.String("on ~k* +@read +cluster|slots +cluster|shards")},
	} {
		u.Engine = aws.String("valkey")
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("writers"), Engine: aws.String("valkey"),
		UserIds: []string{"shut-default", "writer", "iam-app"}}); err != nil {
		t.Fatal(err)
	}
	waitUserGroupActive(t, c, "writers")
	_, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("direct"), ReplicationGroupDescription: aws.String("direct"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.micro"), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"writers"},
	})
	wantFault(t, "an IAM user on nodes reached directly", err, "InvalidParameterCombination", "IAM")
	g, _ := createDurableGroupWith(t, srv, "ledger", "", func(in *elasticache.CreateReplicationGroupInput) {
		in.AuthToken, in.UserGroupIds = nil, []string{"writers"}
	})
	pool := nodeCA(t, srv)
	newClient := func(user, pass string) *redis.ClusterClient {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr(g.ConfigurationEndpoint)}, Username: user, Password: pass,
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second,
			MaxRedirects: 8, MaxRetries: 2, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	writer := newClient("writer", pw)
	writeClusterKeys(t, writer, "k", 200)
	if err := writer.Set(ctx, "other", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("writer SET other: %v, want NOPERM", err)
	}
	if err := newClient("", "").Set(ctx, "k0", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("SET as the locked default user: %v, want NOAUTH", err)
	}
	var logged uint64
	for _, api := range logReplicas(t, srv.dataDir) {
		end, err := logEnd(api)
		if err != nil {
			t.Fatal(err)
		}
		logged += end
	}
	if logged < 200*10 {
		t.Errorf("the logs hold %d bytes after 200 acknowledged writes", logged)
	}
	// Kill the primary of slot 0: its replica, fed by the relay, takes over with every write and the users.
	victim := primaryOfSlot(t, c, writer, 0)
	killPID(t, engineOf(t, srv, victim))
	eventually(t, time.Minute, "a new primary for slot 0", func() error {
		p, err := slotOwner(t, c, writer, 0)
		if err != nil {
			return err
		}
		if p == victim {
			return errors.New(p + " still serves slot 0")
		}
		return nil
	})
	eventually(t, 30*time.Second, "every acknowledged key readable as writer after the failover", func() error {
		return checkClusterKeys(newClient("writer", pw), "k", 200)
	})
	if err := newClient("", "").Get(ctx, "k0").Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("GET as the locked default user after the failover: %v, want NOAUTH", err)
	}

	// IAM authentication: a token presigned with the account's key for this group and user.
	iamClient := newClient("iam-app", iamToken(t, srv, "ledger", "iam-app", time.Now()))
	if err := checkClusterKeys(iamClient, "k", 200); err != nil {
		t.Errorf("reads as iam-app with an IAM token: %v", err)
	}
	if err := iamClient.Set(ctx, "k0", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("iam-app SET: %v, want NOPERM", err)
	}
	for what, token := range map[string]string{
		"a token for another group": iamToken(t, srv, "other", "iam-app", time.Now()),
		"an expired token":          iamToken(t, srv, "ledger", "iam-app", time.Now().Add(-16*time.Minute)),
		"a password":                "not-a-token-0123456789",
	} {
		if err := newClient("iam-app", token).Get(ctx, "k0").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
			t.Errorf("iam-app with %s: %v, want WRONGPASS", what, err)
		}
	}
}

// iamToken is an ElastiCache IAM authentication token for user of cache, presigned at with the server's
// key as the AWS SDKs' examples do.
func iamToken(t *testing.T, srv *ecacheProcess, cache, user string, at time.Time) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+cache+"/?Action=connect&User="+user+"&X-Amz-Expires=900", nil)
	if err != nil {
		t.Fatal(err)
	}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: srv.keyID, SecretAccessKey: srv.secret},
		req, emptySHA256, "elasticache", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(signed, "http://")
}
