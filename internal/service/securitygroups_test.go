package service

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

func createSecurityGroup(t *testing.T, s *Service, ctx context.Context, name string) {
	t.Helper()
	_, err := s.CreateCacheSecurityGroup(ctx, &api.CreateCacheSecurityGroupMessage{CacheSecurityGroupName: ptr(name), Description: ptr("group " + name)})
	if err != nil {
		t.Fatalf("create security group %s: %v", name, err)
	}
}

func authorizeIngress(t *testing.T, s *Service, ctx context.Context, group, ec2Group, owner string) *api.CacheSecurityGroup {
	t.Helper()
	out, err := s.AuthorizeCacheSecurityGroupIngress(ctx, &api.AuthorizeCacheSecurityGroupIngressMessage{
		CacheSecurityGroupName: ptr(group), EC2SecurityGroupName: ptr(ec2Group), EC2SecurityGroupOwnerId: ptr(owner),
	})
	if err != nil {
		t.Fatalf("authorize %s on %s: %v", ec2Group, group, err)
	}
	return out.CacheSecurityGroup
}

func TestCacheSecurityGroupRules(t *testing.T) {
	withGroup := func(t *testing.T, s *Service, st store.Store) {
		createSecurityGroup(t, s, context.Background(), "mygroup")
	}
	withRule := func(t *testing.T, s *Service, st store.Store) {
		withGroup(t, s, st)
		authorizeIngress(t, s, context.Background(), "mygroup", "web", "111122223333")
	}
	create := func(name, desc string, tags ...api.Tag) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			in := &api.CreateCacheSecurityGroupMessage{CacheSecurityGroupName: ptr(name), Tags: tags}
			if desc != "" {
				in.Description = ptr(desc)
			}
			_, err := s.CreateCacheSecurityGroup(ctx, in)
			return err
		}
	}
	del := func(name string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			return s.DeleteCacheSecurityGroup(ctx, &api.DeleteCacheSecurityGroupMessage{CacheSecurityGroupName: ptr(name)})
		}
	}
	authorize := func(group, ec2Group, owner string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			_, err := s.AuthorizeCacheSecurityGroupIngress(ctx, &api.AuthorizeCacheSecurityGroupIngressMessage{
				CacheSecurityGroupName: ptr(group), EC2SecurityGroupName: ptr(ec2Group), EC2SecurityGroupOwnerId: ptr(owner),
			})
			return err
		}
	}
	revoke := func(group, ec2Group, owner string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			_, err := s.RevokeCacheSecurityGroupIngress(ctx, &api.RevokeCacheSecurityGroupIngressMessage{
				CacheSecurityGroupName: ptr(group), EC2SecurityGroupName: ptr(ec2Group), EC2SecurityGroupOwnerId: ptr(owner),
			})
			return err
		}
	}
	const (
		ipv   = "InvalidParameterValueException"
		state = "InvalidCacheSecurityGroupStateFault"
	)
	rules := []groupRule{
		{name: "create/default", op: "CreateCacheSecurityGroup", call: create("default", "d"), fault: "CacheSecurityGroupAlreadyExistsFault"},
		{name: "create/Default in capitals", op: "CreateCacheSecurityGroup", call: create("Default", "d"), fault: "CacheSecurityGroupAlreadyExistsFault"},
		{name: "create/existing name", setup: withGroup, op: "CreateCacheSecurityGroup", call: create("MyGroup", "d"), fault: "CacheSecurityGroupAlreadyExistsFault"},
		{name: "create/empty name", op: "CreateCacheSecurityGroup", call: create("", "d"), fault: ipv},
		{name: "create/name with a dot", op: "CreateCacheSecurityGroup", call: create("my.group", "d"), fault: ipv, msg: "CacheSecurityGroupName"},
		{name: "create/name too long", op: "CreateCacheSecurityGroup", call: create("g"+strings.Repeat("x", 255), "d"), fault: ipv},
		{name: "create/no description", op: "CreateCacheSecurityGroup", call: create("g", ""), fault: ipv},
		{name: "create/too many tags", op: "CreateCacheSecurityGroup", call: create("g", "d", manyTestTags(51)...), fault: "TagQuotaPerResourceExceeded"},
		{name: "create/quota", op: "CreateCacheSecurityGroup", fault: "CacheSecurityGroupQuotaExceededFault",
			setup: func(t *testing.T, s *Service, st store.Store) {
				// A stored default group (it has an ingress rule) does not count.
				authorizeIngress(t, s, context.Background(), "default", "web", "111122223333")
				for i := range securityGroupsPerRegion {
					createSecurityGroup(t, s, context.Background(), fmt.Sprintf("g%02d", i))
				}
			},
			call: create("onemore", "d")},
		{name: "describe/unknown name", op: "DescribeCacheSecurityGroups", fault: "CacheSecurityGroupNotFoundFault", msg: "CacheSecurityGroup not found: nope",
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{CacheSecurityGroupName: ptr("nope")})
				return err
			}},
		{name: "describe/MaxRecords above 100", op: "DescribeCacheSecurityGroups", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{MaxRecords: ptr(int32(500))})
				return err
			}},
		{name: "delete/default", op: "DeleteCacheSecurityGroup", call: del("default"), fault: state},
		{name: "delete/unknown group", op: "DeleteCacheSecurityGroup", call: del("nope"), fault: "CacheSecurityGroupNotFoundFault"},
		{name: "delete/no name", op: "DeleteCacheSecurityGroup", call: del(""), fault: ipv},
		{name: "delete/in use by a cluster", op: "DeleteCacheSecurityGroup", call: del("mygroup"), fault: state, msg: "c1",
			setup: func(t *testing.T, s *Service, st store.Store) {
				withGroup(t, s, st)
				putTestCluster(t, st, resource.Cluster{Region: "us-east-1", ID: "c1", SecurityGroupNames: []string{"default", "mygroup"}})
			}},
		{name: "authorize/unknown group", op: "AuthorizeCacheSecurityGroupIngress", call: authorize("nope", "web", "111122223333"), fault: "CacheSecurityGroupNotFoundFault"},
		{name: "authorize/no group name", op: "AuthorizeCacheSecurityGroupIngress", call: authorize("", "web", "111122223333"), fault: ipv},
		{name: "authorize/no EC2 group name", setup: withGroup, op: "AuthorizeCacheSecurityGroupIngress", call: authorize("mygroup", "", "111122223333"), fault: ipv, msg: "EC2SecurityGroupName"},
		{name: "authorize/no owner", setup: withGroup, op: "AuthorizeCacheSecurityGroupIngress", call: authorize("mygroup", "web", ""), fault: ipv, msg: "EC2SecurityGroupOwnerId"},
		{name: "authorize/owner not an account number", setup: withGroup, op: "AuthorizeCacheSecurityGroupIngress", call: authorize("mygroup", "web", "AKIAEXAMPLE"), fault: ipv},
		{name: "authorize/twice", setup: withRule, op: "AuthorizeCacheSecurityGroupIngress", call: authorize("MYGROUP", "web", "111122223333"), fault: "AuthorizationAlreadyExistsFault"},
		{name: "revoke/not authorized", setup: withRule, op: "RevokeCacheSecurityGroupIngress", call: revoke("mygroup", "web", "444455556666"), fault: "AuthorizationNotFoundFault"},
		{name: "revoke/nothing on default", op: "RevokeCacheSecurityGroupIngress", call: revoke("default", "web", "111122223333"), fault: "AuthorizationNotFoundFault"},
		{name: "revoke/unknown group", op: "RevokeCacheSecurityGroupIngress", call: revoke("nope", "web", "111122223333"), fault: "CacheSecurityGroupNotFoundFault"},
		{name: "revoke/no owner", setup: withRule, op: "RevokeCacheSecurityGroupIngress", call: revoke("mygroup", "web", ""), fault: ipv},
	}
	runGroupRules(t, rules)
}

func TestCacheSecurityGroupLifecycle(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := inRegion("us-west-2")
	out, err := s.CreateCacheSecurityGroup(ctx, &api.CreateCacheSecurityGroupMessage{
		CacheSecurityGroupName: ptr("Web-Cache"), Description: ptr("web tier"), Tags: []api.Tag{{Key: ptr("team"), Value: ptr("web")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &api.CacheSecurityGroup{
		ARN:                    ptr("arn:aws:elasticache:us-west-2:123456789012:securitygroup:web-cache"),
		CacheSecurityGroupName: ptr("web-cache"),
		Description:            ptr("web tier"),
		OwnerId:                ptr(groupTestAccount),
		EC2SecurityGroups:      []api.EC2SecurityGroup{},
	}
	if !reflect.DeepEqual(out.CacheSecurityGroup, want) {
		t.Errorf("create: got %s, want %s", dumpJSON(out.CacheSecurityGroup), dumpJSON(want))
	}

	steps := []struct {
		name string
		do   func() (*api.CacheSecurityGroup, error)
		want []api.EC2SecurityGroup
	}{
		{"authorize web", func() (*api.CacheSecurityGroup, error) {
			r, err := s.AuthorizeCacheSecurityGroupIngress(ctx, &api.AuthorizeCacheSecurityGroupIngressMessage{
				CacheSecurityGroupName: ptr("web-cache"), EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("111122223333"),
			})
			if err != nil {
				return nil, err
			}
			return r.CacheSecurityGroup, nil
		}, []api.EC2SecurityGroup{{EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("111122223333"), Status: ptr("authorized")}}},
		{"authorize the same group name of another owner", func() (*api.CacheSecurityGroup, error) {
			r, err := s.AuthorizeCacheSecurityGroupIngress(ctx, &api.AuthorizeCacheSecurityGroupIngressMessage{
				CacheSecurityGroupName: ptr("web-cache"), EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("444455556666"),
			})
			if err != nil {
				return nil, err
			}
			return r.CacheSecurityGroup, nil
		}, []api.EC2SecurityGroup{
			{EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("111122223333"), Status: ptr("authorized")},
			{EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("444455556666"), Status: ptr("authorized")},
		}},
		{"revoke the first", func() (*api.CacheSecurityGroup, error) {
			r, err := s.RevokeCacheSecurityGroupIngress(ctx, &api.RevokeCacheSecurityGroupIngressMessage{
				CacheSecurityGroupName: ptr("WEB-CACHE"), EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("111122223333"),
			})
			if err != nil {
				return nil, err
			}
			return r.CacheSecurityGroup, nil
		}, []api.EC2SecurityGroup{{EC2SecurityGroupName: ptr("web"), EC2SecurityGroupOwnerId: ptr("444455556666"), Status: ptr("authorized")}}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			got, err := step.do()
			if err != nil {
				t.Fatal(err)
			}
			w := *want
			w.EC2SecurityGroups = step.want
			if !reflect.DeepEqual(got, &w) {
				t.Errorf("response: got %s, want %s", dumpJSON(got), dumpJSON(&w))
			}
			desc, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{CacheSecurityGroupName: ptr("web-cache")})
			if err != nil {
				t.Fatal(err)
			}
			if len(desc.CacheSecurityGroups) != 1 || !reflect.DeepEqual(&desc.CacheSecurityGroups[0], &w) {
				t.Errorf("describe: got %s, want %s", dumpJSON(desc.CacheSecurityGroups), dumpJSON(&w))
			}
		})
	}

	if err := s.DeleteCacheSecurityGroup(ctx, &api.DeleteCacheSecurityGroupMessage{CacheSecurityGroupName: ptr("web-cache")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{CacheSecurityGroupName: ptr("web-cache")})
	checkGroupFault(t, "DescribeCacheSecurityGroups", err, "CacheSecurityGroupNotFoundFault")
	if objs, _ := st.List(context.Background(), resource.KindSecurityGroup); len(objs) != 0 {
		t.Errorf("%d security group records left, want none", len(objs))
	}
}

func TestDefaultCacheSecurityGroup(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	describeDefault := func() api.CacheSecurityGroup {
		t.Helper()
		out, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{CacheSecurityGroupName: ptr("default")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.CacheSecurityGroups) != 1 {
			t.Fatalf("got %d groups named default, want 1", len(out.CacheSecurityGroups))
		}
		return out.CacheSecurityGroups[0]
	}
	want := api.CacheSecurityGroup{
		ARN:                    ptr("arn:aws:elasticache:us-east-1:123456789012:securitygroup:default"),
		CacheSecurityGroupName: ptr("default"),
		Description:            ptr("default"),
		OwnerId:                ptr(groupTestAccount),
		EC2SecurityGroups:      []api.EC2SecurityGroup{},
	}
	if got := describeDefault(); !reflect.DeepEqual(got, want) {
		t.Errorf("default: got %s, want %s", dumpJSON(got), dumpJSON(want))
	}
	// Ingress rules on the default group are kept; it stays listed once and stays undeletable.
	authorizeIngress(t, s, ctx, "default", "app", "111122223333")
	want.EC2SecurityGroups = []api.EC2SecurityGroup{{EC2SecurityGroupName: ptr("app"), EC2SecurityGroupOwnerId: ptr("111122223333"), Status: ptr("authorized")}}
	if got := describeDefault(); !reflect.DeepEqual(got, want) {
		t.Errorf("default after authorize: got %s, want %s", dumpJSON(got), dumpJSON(want))
	}
	all, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.CacheSecurityGroups) != 1 {
		t.Errorf("listing shows %d groups, want only default", len(all.CacheSecurityGroups))
	}
	err = s.DeleteCacheSecurityGroup(ctx, &api.DeleteCacheSecurityGroupMessage{CacheSecurityGroupName: ptr("default")})
	checkGroupFault(t, "DeleteCacheSecurityGroup", err, "InvalidCacheSecurityGroupStateFault")
	_, err = s.CreateCacheSecurityGroup(ctx, &api.CreateCacheSecurityGroupMessage{CacheSecurityGroupName: ptr("default"), Description: ptr("d")})
	checkGroupFault(t, "CreateCacheSecurityGroup", err, "CacheSecurityGroupAlreadyExistsFault")
}

func TestDescribeCacheSecurityGroupsPagination(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	for i := range 25 {
		createSecurityGroup(t, s, ctx, fmt.Sprintf("csg-%02d", i))
	}
	createSecurityGroup(t, s, inRegion("sa-east-1"), "elsewhere")
	names, sizes := describePages(t, func(marker *string) ([]string, *string, error) {
		out, err := s.DescribeCacheSecurityGroups(ctx, &api.DescribeCacheSecurityGroupsMessage{MaxRecords: ptr(int32(20)), Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		var names []string
		for _, g := range out.CacheSecurityGroups {
			names = append(names, deref(g.CacheSecurityGroupName))
		}
		return names, out.Marker, nil
	})
	if want := []int{20, 6}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("page sizes = %v, want %v", sizes, want)
	}
	if len(names) != 26 || !slices.IsSorted(names) || !slices.Contains(names, "default") || slices.Contains(names, "elsewhere") {
		t.Errorf("names = %v, want csg-00..csg-24 and default of this region, sorted", names)
	}
}
