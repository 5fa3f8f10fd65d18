package service

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

func createSubnetGroup(t *testing.T, s *Service, ctx context.Context, name string, subnets ...string) *api.CacheSubnetGroup {
	t.Helper()
	out, err := s.CreateCacheSubnetGroup(ctx, &api.CreateCacheSubnetGroupMessage{
		CacheSubnetGroupName: ptr(name), CacheSubnetGroupDescription: ptr("subnets of " + name), SubnetIds: subnets,
	})
	if err != nil {
		t.Fatalf("create subnet group %s: %v", name, err)
	}
	return out.CacheSubnetGroup
}

func subnetIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("subnet-%08x", i+1)
	}
	return out
}

func TestCacheSubnetGroupRules(t *testing.T) {
	withGroup := func(t *testing.T, s *Service, st store.Store) {
		createSubnetGroup(t, s, context.Background(), "mygroup", "subnet-0a1b2c3d")
	}
	create := func(name, desc string, subnets []string, tags ...api.Tag) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			in := &api.CreateCacheSubnetGroupMessage{CacheSubnetGroupName: ptr(name), SubnetIds: subnets, Tags: tags}
			if desc != "" {
				in.CacheSubnetGroupDescription = ptr(desc)
			}
			_, err := s.CreateCacheSubnetGroup(ctx, in)
			return err
		}
	}
	modify := func(name string, desc *string, subnets []string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			_, err := s.ModifyCacheSubnetGroup(ctx, &api.ModifyCacheSubnetGroupMessage{CacheSubnetGroupName: ptr(name), CacheSubnetGroupDescription: desc, SubnetIds: subnets})
			return err
		}
	}
	del := func(name string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			return s.DeleteCacheSubnetGroup(ctx, &api.DeleteCacheSubnetGroupMessage{CacheSubnetGroupName: ptr(name)})
		}
	}
	one := []string{"subnet-0a1b2c3d"}
	const ipv = "InvalidParameterValueException"
	rules := []groupRule{
		{name: "create/default", op: "CreateCacheSubnetGroup", call: create("default", "d", one), fault: "CacheSubnetGroupAlreadyExistsFault"},
		{name: "create/Default in capitals", op: "CreateCacheSubnetGroup", call: create("Default", "d", one), fault: "CacheSubnetGroupAlreadyExistsFault"},
		{name: "create/existing name", setup: withGroup, op: "CreateCacheSubnetGroup", call: create("MYGROUP", "d", one), fault: "CacheSubnetGroupAlreadyExistsFault"},
		{name: "create/empty name", op: "CreateCacheSubnetGroup", call: create("", "d", one), fault: ipv},
		{name: "create/name with an underscore", op: "CreateCacheSubnetGroup", call: create("my_group", "d", one), fault: ipv, msg: "CacheSubnetGroupName"},
		{name: "create/name too long", op: "CreateCacheSubnetGroup", call: create("g"+strings.Repeat("x", 255), "d", one), fault: ipv},
		{name: "create/no description", op: "CreateCacheSubnetGroup", call: create("g", "", one), fault: ipv},
		{name: "create/no subnets", op: "CreateCacheSubnetGroup", call: create("g", "d", nil), fault: ipv, msg: "The parameter SubnetIds must be provided."},
		{name: "create/21 subnets", op: "CreateCacheSubnetGroup", call: create("g", "d", subnetIDs(21)), fault: "CacheSubnetQuotaExceededFault"},
		{name: "create/subnet id not hex", op: "CreateCacheSubnetGroup", call: create("g", "d", []string{"subnet-0a1b2c3d", "subnet-xyz"}), fault: "InvalidSubnet", msg: "subnet-xyz"},
		{name: "create/subnet id without digits", op: "CreateCacheSubnetGroup", call: create("g", "d", []string{"subnet-"}), fault: "InvalidSubnet"},
		{name: "create/not a subnet id", op: "CreateCacheSubnetGroup", call: create("g", "d", []string{"sg-0a1b2c3d"}), fault: "InvalidSubnet"},
		{name: "create/too many tags", op: "CreateCacheSubnetGroup", call: create("g", "d", one, manyTestTags(51)...), fault: "TagQuotaPerResourceExceeded"},
		{name: "create/quota", op: "CreateCacheSubnetGroup", fault: "CacheSubnetGroupQuotaExceededFault",
			setup: func(t *testing.T, s *Service, st store.Store) {
				for i := range subnetGroupsPerRegion {
					createSubnetGroup(t, s, context.Background(), fmt.Sprintf("g%03d", i), "subnet-0a1b2c3d")
				}
			},
			call: create("onemore", "d", one)},
		{name: "describe/unknown name", op: "DescribeCacheSubnetGroups", fault: "CacheSubnetGroupNotFoundFault",
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{CacheSubnetGroupName: ptr("nope")})
				return err
			}},
		{name: "describe/MaxRecords below 20", op: "DescribeCacheSubnetGroups", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{MaxRecords: ptr(int32(5))})
				return err
			}},
		{name: "modify/default", op: "ModifyCacheSubnetGroup", call: modify("default", ptr("d"), nil), fault: ipv},
		{name: "modify/unknown group", op: "ModifyCacheSubnetGroup", call: modify("nope", ptr("d"), nil), fault: "CacheSubnetGroupNotFoundFault"},
		{name: "modify/no name", op: "ModifyCacheSubnetGroup", call: modify("", ptr("d"), nil), fault: ipv},
		{name: "modify/blank description", setup: withGroup, op: "ModifyCacheSubnetGroup", call: modify("mygroup", ptr(""), nil), fault: ipv},
		{name: "modify/bad subnet", setup: withGroup, op: "ModifyCacheSubnetGroup", call: modify("mygroup", nil, []string{"subnet-0A1B"}), fault: "InvalidSubnet"},
		{name: "modify/21 subnets", setup: withGroup, op: "ModifyCacheSubnetGroup", call: modify("mygroup", nil, subnetIDs(21)), fault: "CacheSubnetQuotaExceededFault"},
		{name: "delete/default", op: "DeleteCacheSubnetGroup", call: del("default"), fault: ipv, msg: "Cannot delete default cache subnet group"},
		{name: "delete/unknown group", op: "DeleteCacheSubnetGroup", call: del("nope"), fault: "CacheSubnetGroupNotFoundFault"},
		{name: "delete/no name", op: "DeleteCacheSubnetGroup", call: del(""), fault: ipv},
		{name: "delete/in use by a cluster", op: "DeleteCacheSubnetGroup", call: del("mygroup"), fault: "CacheSubnetGroupInUse", msg: "c1",
			setup: func(t *testing.T, s *Service, st store.Store) {
				withGroup(t, s, st)
				putTestCluster(t, st, resource.Cluster{Region: "us-east-1", ID: "c1", SubnetGroup: "mygroup"})
			}},
	}
	runGroupRules(t, rules)
}

func manyTestTags(n int) []api.Tag {
	out := make([]api.Tag, n)
	for i := range out {
		out[i] = api.Tag{Key: ptr(fmt.Sprintf("k%d", i)), Value: ptr("v")}
	}
	return out
}

var (
	vpcIDPattern = regexp.MustCompile(`^vpc-[0-9a-f]{17}$`)
	azPattern    = regexp.MustCompile(`^eu-west-1[a-f]$`)
)

func TestCreateCacheSubnetGroup(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := inRegion("eu-west-1")
	out, err := s.CreateCacheSubnetGroup(ctx, &api.CreateCacheSubnetGroupMessage{
		CacheSubnetGroupName:        ptr("App-Subnets"),
		CacheSubnetGroupDescription: ptr("app tier"),
		SubnetIds:                   []string{"subnet-0123456789abcdef0", "subnet-0a1b2c3d", "subnet-0123456789abcdef0"},
		Tags:                        []api.Tag{{Key: ptr("env"), Value: ptr("ci")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := out.CacheSubnetGroup
	vpc := deref(g.VpcId)
	if !vpcIDPattern.MatchString(vpc) {
		t.Fatalf("VpcId = %q, want vpc- and 17 hex digits", vpc)
	}
	azs := make([]string, len(g.Subnets))
	for i, sn := range g.Subnets {
		azs[i] = deref(sn.SubnetAvailabilityZone.Name)
		if !azPattern.MatchString(azs[i]) {
			t.Errorf("subnet %s is in %q, want eu-west-1a..f", deref(sn.SubnetIdentifier), azs[i])
		}
	}
	want := &api.CacheSubnetGroup{
		ARN:                         ptr("arn:aws:elasticache:eu-west-1:123456789012:subnetgroup:app-subnets"),
		CacheSubnetGroupDescription: ptr("app tier"),
		CacheSubnetGroupName:        ptr("app-subnets"),
		VpcId:                       ptr(vpc),
		SupportedNetworkTypes:       []string{"ipv4", "ipv6", "dual_stack"},
		Subnets: []api.Subnet{
			{SubnetIdentifier: ptr("subnet-0123456789abcdef0"), SubnetAvailabilityZone: &api.AvailabilityZone{Name: ptr(azs[0])}, SupportedNetworkTypes: []string{"ipv4", "ipv6", "dual_stack"}},
			{SubnetIdentifier: ptr("subnet-0a1b2c3d"), SubnetAvailabilityZone: &api.AvailabilityZone{Name: ptr(azs[1])}, SupportedNetworkTypes: []string{"ipv4", "ipv6", "dual_stack"}},
		},
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("create: got %s, want %s", dumpJSON(g), dumpJSON(want))
	}
	desc, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{CacheSubnetGroupName: ptr("app-subnets")})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.CacheSubnetGroups) != 1 || !reflect.DeepEqual(&desc.CacheSubnetGroups[0], want) {
		t.Errorf("describe: got %s, want only %s", dumpJSON(desc.CacheSubnetGroups), dumpJSON(want))
	}
	obj, err := st.Get(context.Background(), resource.KindSubnetGroup, resource.Key("eu-west-1", "app-subnets"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := resource.Unmarshal[resource.SubnetGroup](obj.Value)
	if got, want := rec.Tags, []resource.Tag{{Key: "env", Value: "ci"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored tags = %v, want %v", got, want)
	}

	// The network and the zones are the same on every call and for every service of the account.
	other, _ := newGroupTestService(t)
	again := createSubnetGroup(t, other, ctx, "app-subnets", "subnet-0123456789abcdef0", "subnet-0a1b2c3d")
	again.CacheSubnetGroupDescription = want.CacheSubnetGroupDescription
	if !reflect.DeepEqual(again, want) {
		t.Errorf("same request on another service: got %s, want %s", dumpJSON(again), dumpJSON(want))
	}
}

func TestDescribeDefaultCacheSubnetGroup(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := inRegion("eu-west-1")
	out, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CacheSubnetGroups) != 1 {
		t.Fatalf("got %d groups, want only default", len(out.CacheSubnetGroups))
	}
	g := out.CacheSubnetGroups[0]
	if deref(g.CacheSubnetGroupName) != "default" || deref(g.CacheSubnetGroupDescription) != "default" ||
		deref(g.ARN) != "arn:aws:elasticache:eu-west-1:123456789012:subnetgroup:default" ||
		!vpcIDPattern.MatchString(deref(g.VpcId)) || !reflect.DeepEqual(g.SupportedNetworkTypes, []string{"ipv4", "ipv6", "dual_stack"}) {
		t.Errorf("default group = %s", dumpJSON(g))
	}
	var azs []string
	for _, sn := range g.Subnets {
		azs = append(azs, deref(sn.SubnetAvailabilityZone.Name))
		if got := subnetAZ("eu-west-1", deref(sn.SubnetIdentifier)); got != deref(sn.SubnetAvailabilityZone.Name) {
			t.Errorf("subnet %s is listed in %s but its id places it in %s", deref(sn.SubnetIdentifier), deref(sn.SubnetAvailabilityZone.Name), got)
		}
	}
	want := []string{"eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d", "eu-west-1e", "eu-west-1f"}
	if !reflect.DeepEqual(azs, want) {
		t.Errorf("default subnets are in %v, want one in each of %v", azs, want)
	}
	again, _ := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{CacheSubnetGroupName: ptr("DEFAULT")})
	if again == nil || !reflect.DeepEqual(again.CacheSubnetGroups, out.CacheSubnetGroups) {
		t.Errorf("describing default by name gave a different group")
	}
}

func TestModifyCacheSubnetGroup(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	createSubnetGroup(t, s, ctx, "app", "subnet-0a1b2c3d")
	putTestCluster(t, s.store, resource.Cluster{Region: "us-east-1", ID: "c1", SubnetGroup: "app"})
	for _, tc := range []struct {
		name     string
		in       *api.ModifyCacheSubnetGroupMessage
		desc     string
		subnetIn []string
	}{
		{"description only", &api.ModifyCacheSubnetGroupMessage{CacheSubnetGroupDescription: ptr("new words")}, "new words", []string{"subnet-0a1b2c3d"}},
		{"subnets only", &api.ModifyCacheSubnetGroupMessage{SubnetIds: []string{"subnet-11111111", "subnet-22222222"}}, "new words", []string{"subnet-11111111", "subnet-22222222"}},
		{"both", &api.ModifyCacheSubnetGroupMessage{CacheSubnetGroupDescription: ptr("both"), SubnetIds: []string{"subnet-33333333"}}, "both", []string{"subnet-33333333"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.CacheSubnetGroupName = ptr("APP")
			out, err := s.ModifyCacheSubnetGroup(ctx, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{CacheSubnetGroupName: ptr("app")})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out.CacheSubnetGroup, &desc.CacheSubnetGroups[0]) {
				t.Errorf("modify returned %s, describe shows %s", dumpJSON(out.CacheSubnetGroup), dumpJSON(desc.CacheSubnetGroups[0]))
			}
			var got []string
			for _, sn := range out.CacheSubnetGroup.Subnets {
				got = append(got, deref(sn.SubnetIdentifier))
			}
			if deref(out.CacheSubnetGroup.CacheSubnetGroupDescription) != tc.desc || !reflect.DeepEqual(got, tc.subnetIn) {
				t.Errorf("got description %q and subnets %v, want %q and %v", deref(out.CacheSubnetGroup.CacheSubnetGroupDescription), got, tc.desc, tc.subnetIn)
			}
		})
	}
}

func TestDeleteCacheSubnetGroup(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := context.Background()
	createSubnetGroup(t, s, ctx, "gone", "subnet-0a1b2c3d")
	putTestCluster(t, st, resource.Cluster{Region: "us-east-1", ID: "c1", SubnetGroup: "default"})
	if err := s.DeleteCacheSubnetGroup(ctx, &api.DeleteCacheSubnetGroupMessage{CacheSubnetGroupName: ptr("Gone")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{CacheSubnetGroupName: ptr("gone")})
	checkGroupFault(t, "DescribeCacheSubnetGroups", err, "CacheSubnetGroupNotFoundFault")
	objs, _ := st.List(ctx, resource.KindSubnetGroup)
	if len(objs) != 0 {
		t.Errorf("%d subnet group records left, want none", len(objs))
	}
}

func TestDescribeCacheSubnetGroupsPagination(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	for i := range 25 {
		createSubnetGroup(t, s, ctx, fmt.Sprintf("sg-%02d", i), "subnet-0a1b2c3d")
	}
	createSubnetGroup(t, s, inRegion("ap-southeast-1"), "elsewhere", "subnet-0a1b2c3d")
	names, sizes := describePages(t, func(marker *string) ([]string, *string, error) {
		out, err := s.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{MaxRecords: ptr(int32(20)), Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		var names []string
		for _, g := range out.CacheSubnetGroups {
			names = append(names, deref(g.CacheSubnetGroupName))
		}
		return names, out.Marker, nil
	})
	if want := []int{20, 6}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("page sizes = %v, want %v", sizes, want)
	}
	if len(names) != 26 || !slices.IsSorted(names) || !slices.Contains(names, "default") || slices.Contains(names, "elsewhere") {
		t.Errorf("names = %v, want default and sg-00..sg-24 of this region, sorted", names)
	}
}
