package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Helpers shared by the parameter, subnet and security group tests.

const groupTestAccount = "123456789012"

// newGroupTestService returns a service over an empty memory store whose clock advances a second per reading,
// so that every event gets its own key.
func newGroupTestService(t *testing.T) (*Service, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	host := engine.NewHost(engine.Binary{Engine: engine.EngineRedis, Path: "/usr/bin/redis-server", Version: "7.0.15"})
	cfg := Config{AccountID: groupTestAccount, NodeHost: "127.0.0.1", PortLow: 30000, PortHigh: 30999, Quotas: DefaultQuotas()}
	clock := time.Date(2026, 6, 2, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	return New(st, host, cfg, now, slog.New(slog.DiscardHandler)), st
}

// inRegion is a request context from region rg.
func inRegion(rg string) context.Context {
	return api.WithCaller(context.Background(), api.Caller{Region: rg, RequestID: "test"})
}

// checkGroupFault asserts that err is the modelled fault shape, with its wire code and HTTP status, and that op
// models it (InvalidParameterValue and InvalidParameterCombination are common to every operation).
func checkGroupFault(t *testing.T, op string, err error, shape string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("%s: err = %v, want fault %s", op, err, shape)
	}
	want, ok := api.Faults[shape]
	if !ok {
		t.Fatalf("no modelled fault %s", shape)
	}
	if ae.Code != want.Code || ae.Status != want.Status {
		t.Fatalf("%s: got %s (HTTP %d) %q, want %s (HTTP %d)", op, ae.Code, ae.Status, ae.Message, want.Code, want.Status)
	}
	common := shape == "InvalidParameterValueException" || shape == "InvalidParameterCombinationException"
	if !common && !slices.Contains(api.Operations[op].Errors, shape) {
		t.Errorf("%s returned %s, which the operation does not model", op, shape)
	}
}

// dumpJSON shows a response shape with its pointers followed, for failure messages.
func dumpJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func storeRevision(t *testing.T, st store.Store) int64 {
	t.Helper()
	rev, err := st.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// putTestCluster stores a cluster record that refers to groups, as CreateCacheCluster would.
func putTestCluster(t *testing.T, st store.Store, c resource.Cluster) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put(resource.KindCluster, resource.Key(c.Region, c.ID), resource.Marshal(c), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// storedEvents returns the events of a source in commit order.
func storedEvents(t *testing.T, st store.Store, sourceType, sourceID string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), resource.KindEvent)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		ev, err := resource.Unmarshal[resource.Event](o.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev.SourceType == sourceType && ev.SourceID == sourceID {
			out = append(out, ev.Message)
		}
	}
	return out
}

// groupRule is one request that breaks a rule: it must fail with fault and write nothing.
type groupRule struct {
	name  string
	setup func(t *testing.T, s *Service, st store.Store)
	op    string
	call  func(ctx context.Context, s *Service) error
	fault string
	msg   string // a part of the message, when the fault alone does not tell which rule answered
}

func runGroupRules(t *testing.T, rules []groupRule) {
	for _, tc := range rules {
		t.Run(tc.name, func(t *testing.T) {
			s, st := newGroupTestService(t)
			if tc.setup != nil {
				tc.setup(t, s, st)
			}
			before := storeRevision(t, st)
			err := tc.call(context.Background(), s)
			checkGroupFault(t, tc.op, err, tc.fault)
			if msg := err.Error(); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
			if got := storeRevision(t, st); got != before {
				t.Errorf("store revision = %d after the failed request, want %d: something was written", got, before)
			}
		})
	}
}

func createParameterGroup(t *testing.T, s *Service, ctx context.Context, name, family string) {
	t.Helper()
	_, err := s.CreateCacheParameterGroup(ctx, &api.CreateCacheParameterGroupMessage{
		CacheParameterGroupName: ptr(name), CacheParameterGroupFamily: ptr(family), Description: ptr("test group " + name),
	})
	if err != nil {
		t.Fatalf("create parameter group %s: %v", name, err)
	}
}

func pnv(name, value string) api.ParameterNameValue {
	return api.ParameterNameValue{ParameterName: ptr(name), ParameterValue: ptr(value)}
}

func TestCacheParameterGroupRules(t *testing.T) {
	withGroup := func(t *testing.T, s *Service, st store.Store) {
		createParameterGroup(t, s, context.Background(), "mygroup", "redis7")
	}
	inUse := func(t *testing.T, s *Service, st store.Store) {
		withGroup(t, s, st)
		putTestCluster(t, st, resource.Cluster{Region: "us-east-1", ID: "c1", ParameterGroup: "mygroup"})
	}
	create := func(name, family, desc string, tags ...api.Tag) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			in := &api.CreateCacheParameterGroupMessage{CacheParameterGroupName: ptr(name), CacheParameterGroupFamily: ptr(family), Tags: tags}
			if desc != "" {
				in.Description = ptr(desc)
			}
			_, err := s.CreateCacheParameterGroup(ctx, in)
			return err
		}
	}
	modify := func(name string, nvs ...api.ParameterNameValue) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			_, err := s.ModifyCacheParameterGroup(ctx, &api.ModifyCacheParameterGroupMessage{CacheParameterGroupName: ptr(name), ParameterNameValues: nvs})
			return err
		}
	}
	reset := func(name string, all *bool, names ...string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			in := &api.ResetCacheParameterGroupMessage{CacheParameterGroupName: ptr(name), ResetAllParameters: all}
			for _, n := range names {
				in.ParameterNameValues = append(in.ParameterNameValues, api.ParameterNameValue{ParameterName: ptr(n)})
			}
			_, err := s.ResetCacheParameterGroup(ctx, in)
			return err
		}
	}
	del := func(name string) func(context.Context, *Service) error {
		return func(ctx context.Context, s *Service) error {
			return s.DeleteCacheParameterGroup(ctx, &api.DeleteCacheParameterGroupMessage{CacheParameterGroupName: ptr(name)})
		}
	}
	var tooMany []api.ParameterNameValue
	for range 21 {
		tooMany = append(tooMany, pnv("timeout", "10"))
	}
	const (
		ipv   = "InvalidParameterValueException"
		state = "InvalidCacheParameterGroupStateFault"
	)
	rules := []groupRule{
		{name: "create/empty name", op: "CreateCacheParameterGroup", call: create("", "redis7", "d"), fault: ipv},
		{name: "create/name starts with a digit", op: "CreateCacheParameterGroup", call: create("1group", "redis7", "d"), fault: ipv},
		{name: "create/name with two hyphens", op: "CreateCacheParameterGroup", call: create("my--group", "redis7", "d"), fault: ipv},
		{name: "create/name ends with a hyphen", op: "CreateCacheParameterGroup", call: create("mygroup-", "redis7", "d"), fault: ipv},
		{name: "create/name too long", op: "CreateCacheParameterGroup", call: create("g"+strings.Repeat("x", 255), "redis7", "d"), fault: ipv},
		{name: "create/name of a default group", op: "CreateCacheParameterGroup", call: create("default.redis7", "redis7", "d"), fault: "CacheParameterGroupAlreadyExistsFault"},
		{name: "create/name of a default group in capitals", op: "CreateCacheParameterGroup", call: create("Default.Valkey8.Cluster.On", "valkey8", "d"), fault: "CacheParameterGroupAlreadyExistsFault"},
		{name: "create/existing name", setup: withGroup, op: "CreateCacheParameterGroup", call: create("MyGroup", "redis7", "d"), fault: "CacheParameterGroupAlreadyExistsFault"},
		{name: "create/no family", op: "CreateCacheParameterGroup", call: create("g", "", "d"), fault: ipv},
		{name: "create/unknown family", op: "CreateCacheParameterGroup", call: create("g", "redis99", "d"), fault: ipv},
		{name: "create/no description", op: "CreateCacheParameterGroup", call: create("g", "redis7", ""), fault: ipv},
		{name: "create/reserved tag key", op: "CreateCacheParameterGroup", call: create("g", "redis7", "d", api.Tag{Key: ptr("aws:x"), Value: ptr("v")}), fault: ipv},
		{name: "create/too many tags", op: "CreateCacheParameterGroup", call: create("g", "redis7", "d", manyTestTags(51)...), fault: "TagQuotaPerResourceExceeded"},
		{name: "create/quota", op: "CreateCacheParameterGroup", fault: "CacheParameterGroupQuotaExceededFault",
			setup: func(t *testing.T, s *Service, st store.Store) {
				for i := range parameterGroupsPerRegion {
					createParameterGroup(t, s, context.Background(), fmt.Sprintf("g%03d", i), "redis7")
				}
			},
			call: create("onemore", "redis7", "d")},
		{name: "describe groups/unknown name", op: "DescribeCacheParameterGroups", fault: "CacheParameterGroupNotFoundFault",
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr("nope")})
				return err
			}},
		{name: "describe groups/MaxRecords below 20", op: "DescribeCacheParameterGroups", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{MaxRecords: ptr(int32(19))})
				return err
			}},
		{name: "modify/default group", op: "ModifyCacheParameterGroup", call: modify("default.redis7", pnv("timeout", "10")), fault: state},
		{name: "modify/unknown group", op: "ModifyCacheParameterGroup", call: modify("nope", pnv("timeout", "10")), fault: "CacheParameterGroupNotFoundFault"},
		{name: "modify/no name", op: "ModifyCacheParameterGroup", call: modify("", pnv("timeout", "10")), fault: ipv},
		{name: "modify/no parameters", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup"), fault: ipv},
		{name: "modify/more than 20 parameters", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", tooMany...), fault: ipv},
		{name: "modify/unknown parameter", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("no-such-parameter", "1")), fault: ipv, msg: "Unknown parameter"},
		{name: "modify/memcached parameter on redis", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("chunk_size", "48")), fault: ipv},
		{name: "modify/bad enum value", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("maxmemory-policy", "bogus")), fault: ipv, msg: "maxmemory-policy"},
		{name: "modify/not an integer", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("timeout", "ten")), fault: ipv},
		{name: "modify/not modifiable", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("lua-time-limit", "100")), fault: ipv, msg: "not modifiable"},
		{name: "modify/no value", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", api.ParameterNameValue{ParameterName: ptr("timeout")}), fault: ipv},
		{name: "modify/one good one bad", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("timeout", "10"), pnv("maxmemory-policy", "bogus")), fault: ipv},
		{name: "modify/cluster-enabled of a group in use", setup: inUse, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("cluster-enabled", "yes")), fault: state, msg: "c1"},
		{name: "modify/cluster-enabled bad value", setup: withGroup, op: "ModifyCacheParameterGroup", call: modify("mygroup", pnv("cluster-enabled", "maybe")), fault: ipv},
		{name: "reset/default group", op: "ResetCacheParameterGroup", call: reset("default.memcached1.6", ptr(true)), fault: state},
		{name: "reset/unknown group", op: "ResetCacheParameterGroup", call: reset("nope", ptr(true)), fault: "CacheParameterGroupNotFoundFault"},
		{name: "reset/nothing to reset", setup: withGroup, op: "ResetCacheParameterGroup", call: reset("mygroup", nil), fault: ipv},
		{name: "reset/all and names", setup: withGroup, op: "ResetCacheParameterGroup", call: reset("mygroup", ptr(true), "timeout"), fault: "InvalidParameterCombinationException"},
		{name: "reset/unknown parameter", setup: withGroup, op: "ResetCacheParameterGroup", call: reset("mygroup", ptr(false), "no-such-parameter"), fault: ipv},
		{name: "delete/default group", op: "DeleteCacheParameterGroup", call: del("default.redis7.cluster.on"), fault: state},
		{name: "delete/unknown group", op: "DeleteCacheParameterGroup", call: del("nope"), fault: "CacheParameterGroupNotFoundFault"},
		{name: "delete/no name", op: "DeleteCacheParameterGroup", call: del(""), fault: ipv},
		{name: "delete/in use by a cluster", setup: inUse, op: "DeleteCacheParameterGroup", call: del("mygroup"), fault: state, msg: "c1"},
		{name: "describe parameters/unknown group", op: "DescribeCacheParameters", fault: "CacheParameterGroupNotFoundFault",
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheParameters(ctx, &api.DescribeCacheParametersMessage{CacheParameterGroupName: ptr("nope")})
				return err
			}},
		{name: "describe parameters/no name", op: "DescribeCacheParameters", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheParameters(ctx, &api.DescribeCacheParametersMessage{})
				return err
			}},
		{name: "describe parameters/bad source", op: "DescribeCacheParameters", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeCacheParameters(ctx, &api.DescribeCacheParametersMessage{CacheParameterGroupName: ptr("default.redis7"), Source: ptr("users")})
				return err
			}},
		{name: "engine defaults/no family", op: "DescribeEngineDefaultParameters", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeEngineDefaultParameters(ctx, &api.DescribeEngineDefaultParametersMessage{})
				return err
			}},
		{name: "engine defaults/unknown family", op: "DescribeEngineDefaultParameters", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeEngineDefaultParameters(ctx, &api.DescribeEngineDefaultParametersMessage{CacheParameterGroupFamily: ptr("redis1.0")})
				return err
			}},
		{name: "engine defaults/MaxRecords above 100", op: "DescribeEngineDefaultParameters", fault: ipv,
			call: func(ctx context.Context, s *Service) error {
				_, err := s.DescribeEngineDefaultParameters(ctx, &api.DescribeEngineDefaultParametersMessage{CacheParameterGroupFamily: ptr("redis7"), MaxRecords: ptr(int32(101))})
				return err
			}},
	}
	runGroupRules(t, rules)
}

func TestCreateCacheParameterGroup(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := inRegion("eu-west-1")
	out, err := s.CreateCacheParameterGroup(ctx, &api.CreateCacheParameterGroupMessage{
		CacheParameterGroupName:   ptr("My-Params"),
		CacheParameterGroupFamily: ptr("valkey8"),
		Description:               ptr("tuned for sessions"),
		Tags:                      []api.Tag{{Key: ptr("team"), Value: ptr("web")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &api.CacheParameterGroup{
		ARN:                       ptr("arn:aws:elasticache:eu-west-1:123456789012:parametergroup:my-params"),
		CacheParameterGroupFamily: ptr("valkey8"),
		CacheParameterGroupName:   ptr("my-params"),
		Description:               ptr("tuned for sessions"),
		IsGlobal:                  ptr(false),
	}
	if !reflect.DeepEqual(out.CacheParameterGroup, want) {
		t.Errorf("create: got %s, want %s", dumpJSON(out.CacheParameterGroup), dumpJSON(want))
	}
	desc, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr("MY-PARAMS")})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.CacheParameterGroups) != 1 || !reflect.DeepEqual(&desc.CacheParameterGroups[0], want) || desc.Marker != nil {
		t.Errorf("describe: got %s, want only %s", dumpJSON(desc), dumpJSON(want))
	}
	obj, err := st.Get(context.Background(), resource.KindParameterGroup, resource.Key("eu-west-1", "my-params"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := resource.Unmarshal[resource.ParameterGroup](obj.Value)
	if got, want := rec.Tags, []resource.Tag{{Key: "team", Value: "web"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored tags = %v, want %v", got, want)
	}
	if got, want := storedEvents(t, st, "cache-parameter-group", "my-params"), []string{"Cache parameter group created"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	// Another region does not see the group and may create one of the same name.
	if _, err := s.DescribeCacheParameterGroups(inRegion("us-west-2"), &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr("my-params")}); err == nil {
		t.Error("describe in another region found the group")
	}
	createParameterGroup(t, s, inRegion("us-west-2"), "my-params", "redis7")
}

func TestDescribeCacheParameterGroupsDefaults(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	out, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{})
	if err != nil {
		t.Fatal(err)
	}
	defaults := engine.DefaultParameterGroups()
	if got, want := len(out.CacheParameterGroups), len(defaults); got != want {
		t.Fatalf("got %d groups, want the %d default groups", got, want)
	}
	names := make([]string, 0, len(out.CacheParameterGroups))
	for _, g := range out.CacheParameterGroups {
		names = append(names, *g.CacheParameterGroupName)
	}
	if !slices.IsSorted(names) {
		t.Errorf("groups are not sorted by name: %v", names)
	}
	got, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr("default.redis7.cluster.on")})
	if err != nil {
		t.Fatal(err)
	}
	want := []api.CacheParameterGroup{{
		ARN:                       ptr("arn:aws:elasticache:us-east-1:123456789012:parametergroup:default.redis7.cluster.on"),
		CacheParameterGroupFamily: ptr("redis7"),
		CacheParameterGroupName:   ptr("default.redis7.cluster.on"),
		Description:               ptr("Customized default parameter group for redis7 with cluster mode on"),
		IsGlobal:                  ptr(false),
	}}
	if !reflect.DeepEqual(got.CacheParameterGroups, want) {
		t.Errorf("got %s, want %s", dumpJSON(got.CacheParameterGroups), dumpJSON(want))
	}
}

func TestDescribeCacheParameterGroupsPagination(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	for i := range 25 {
		createParameterGroup(t, s, ctx, fmt.Sprintf("pg-%02d", i), "redis7")
	}
	all, sizes := describePages(t, func(marker *string) ([]string, *string, error) {
		out, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{MaxRecords: ptr(int32(20)), Marker: marker})
		if err != nil {
			return nil, nil, err
		}
		var names []string
		for _, g := range out.CacheParameterGroups {
			names = append(names, *g.CacheParameterGroupName)
		}
		return names, out.Marker, nil
	})
	total := 25 + len(engine.DefaultParameterGroups())
	if got, want := len(sizes), (total+19)/20; got != want {
		t.Errorf("pages = %d, want %d", got, want)
	}
	if slices.Max(sizes) > 20 {
		t.Errorf("page sizes %v, want at most 20 each", sizes)
	}
	if len(all) != total || !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != total {
		t.Errorf("got %d names (sorted %v), want %d distinct sorted names", len(all), slices.IsSorted(all), total)
	}
	if !slices.Contains(all, "pg-24") || !slices.Contains(all, "default.memcached1.4") {
		t.Errorf("listing misses groups: %v", all)
	}
}

// describeAllParameters pages through DescribeCacheParameters with MaxRecords 20.
func describeAllParameters(t *testing.T, s *Service, name, source string) (map[string]api.Parameter, []api.CacheNodeTypeSpecificParameter, []string) {
	t.Helper()
	params := map[string]api.Parameter{}
	var nodeTypes []api.CacheNodeTypeSpecificParameter
	var order []string
	var marker *string
	for {
		in := &api.DescribeCacheParametersMessage{CacheParameterGroupName: ptr(name), MaxRecords: ptr(int32(20)), Marker: marker}
		if source != "" {
			in.Source = ptr(source)
		}
		out, err := s.DescribeCacheParameters(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parameters) > 20 {
			t.Fatalf("page has %d parameters, want at most 20", len(out.Parameters))
		}
		if marker != nil && len(out.CacheNodeTypeSpecificParameters) > 0 {
			t.Errorf("node-type-specific parameters repeated on a later page")
		}
		nodeTypes = append(nodeTypes, out.CacheNodeTypeSpecificParameters...)
		for _, p := range out.Parameters {
			params[*p.ParameterName] = p
			order = append(order, *p.ParameterName)
		}
		if out.Marker == nil {
			return params, nodeTypes, order
		}
		marker = out.Marker
	}
}

func TestModifyAndResetCacheParameterGroup(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := context.Background()
	createParameterGroup(t, s, ctx, "sessions", "redis7")
	out, err := s.ModifyCacheParameterGroup(ctx, &api.ModifyCacheParameterGroupMessage{
		CacheParameterGroupName: ptr("Sessions"),
		ParameterNameValues:     []api.ParameterNameValue{pnv("maxmemory-policy", "allkeys-lru"), pnv("timeout", "300")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := deref(out.CacheParameterGroupName), "sessions"; got != want {
		t.Errorf("modify returned name %q, want %q", got, want)
	}
	defaults, _ := engine.Parameters("redis7")
	params, nodeTypes, order := describeAllParameters(t, s, "sessions", "")
	if got, want := len(params), len(defaults); got != want || !slices.IsSorted(order) {
		t.Errorf("described %d parameters (sorted %v), want %d sorted", got, slices.IsSorted(order), want)
	}
	if len(nodeTypes) != len(engine.NodeTypeSpecificParameters("redis7")) {
		t.Errorf("got %d node-type-specific parameters, want %d", len(nodeTypes), len(engine.NodeTypeSpecificParameters("redis7")))
	}
	for _, c := range []struct{ name, value, source string }{
		{"maxmemory-policy", "allkeys-lru", "user"},
		{"timeout", "300", "user"},
		{"cluster-enabled", "no", "system"},
	} {
		p := params[c.name]
		if deref(p.ParameterValue) != c.value || deref(p.Source) != c.source {
			t.Errorf("%s = %q (source %q), want %q (source %q)", c.name, deref(p.ParameterValue), deref(p.Source), c.value, c.source)
		}
	}
	user, nodeTypes, _ := describeAllParameters(t, s, "sessions", "user")
	if got := slices.Sorted(maps.Keys(user)); !reflect.DeepEqual(got, []string{"maxmemory-policy", "timeout"}) || len(nodeTypes) != 0 {
		t.Errorf("Source=user: got %v and %d node-type parameters, want [maxmemory-policy timeout] and none", got, len(nodeTypes))
	}
	system, _, _ := describeAllParameters(t, s, "sessions", "system")
	if _, ok := system["timeout"]; ok || len(system) != len(defaults)-2 {
		t.Errorf("Source=system: got %d parameters (timeout included: %v), want %d without the modified ones", len(system), ok, len(defaults)-2)
	}

	if _, err := s.ResetCacheParameterGroup(ctx, &api.ResetCacheParameterGroupMessage{
		CacheParameterGroupName: ptr("sessions"), ParameterNameValues: []api.ParameterNameValue{{ParameterName: ptr("timeout")}},
	}); err != nil {
		t.Fatal(err)
	}
	user, _, _ = describeAllParameters(t, s, "sessions", "user")
	if got := slices.Sorted(maps.Keys(user)); !reflect.DeepEqual(got, []string{"maxmemory-policy"}) {
		t.Errorf("after resetting timeout, user parameters = %v, want [maxmemory-policy]", got)
	}
	if _, err := s.ResetCacheParameterGroup(ctx, &api.ResetCacheParameterGroupMessage{CacheParameterGroupName: ptr("sessions"), ResetAllParameters: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	user, _, _ = describeAllParameters(t, s, "sessions", "user")
	if len(user) != 0 {
		t.Errorf("after resetting all, user parameters = %v, want none", slices.Sorted(maps.Keys(user)))
	}
	want := []string{"Cache parameter group created", "Cache parameter group modified", "Cache parameter group reset", "Cache parameter group reset"}
	if got := storedEvents(t, st, "cache-parameter-group", "sessions"); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestModifyClusterEnabled(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := context.Background()
	createParameterGroup(t, s, ctx, "sharded", "redis7")
	if _, err := s.ModifyCacheParameterGroup(ctx, &api.ModifyCacheParameterGroupMessage{
		CacheParameterGroupName: ptr("sharded"), ParameterNameValues: []api.ParameterNameValue{pnv("cluster-enabled", "yes")},
	}); err != nil {
		t.Fatalf("setting cluster-enabled on an unused user group: %v", err)
	}
	var ref parameterGroupRef
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		ref, err = lookupParameterGroup(tx, "us-east-1", "sharded")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (parameterGroupRef{Name: "sharded", Family: "redis7", ClusterEnabled: true}); ref != want {
		t.Errorf("lookupParameterGroup = %+v, want %+v", ref, want)
	}
	// Other parameters of a group in use may change; the controller applies them.
	putTestCluster(t, st, resource.Cluster{Region: "us-east-1", ID: "c1", ParameterGroup: "sharded"})
	if _, err := s.ModifyCacheParameterGroup(ctx, &api.ModifyCacheParameterGroupMessage{
		CacheParameterGroupName: ptr("sharded"), ParameterNameValues: []api.ParameterNameValue{pnv("timeout", "60"), pnv("cluster-enabled", "yes")},
	}); err != nil {
		t.Errorf("modifying a group in use without changing cluster mode: %v", err)
	}
}

func TestDeleteCacheParameterGroup(t *testing.T) {
	s, st := newGroupTestService(t)
	ctx := context.Background()
	createParameterGroup(t, s, ctx, "old", "memcached1.6")
	// A cluster in another region with a group of the same name does not hold this one.
	putTestCluster(t, st, resource.Cluster{Region: "eu-west-1", ID: "c1", ParameterGroup: "old"})
	if err := s.DeleteCacheParameterGroup(ctx, &api.DeleteCacheParameterGroupMessage{CacheParameterGroupName: ptr("OLD")}); err != nil {
		t.Fatal(err)
	}
	_, err := s.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr("old")})
	checkGroupFault(t, "DescribeCacheParameterGroups", err, "CacheParameterGroupNotFoundFault")
	if got, want := err.(*api.Error).Message, "CacheParameterGroup not found: old"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	want := []string{"Cache parameter group created", "Cache parameter group deleted"}
	if got := storedEvents(t, st, "cache-parameter-group", "old"); !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestDescribeCacheParametersDefaultGroups(t *testing.T) {
	s, _ := newGroupTestService(t)
	for _, tc := range []struct {
		group, family, clusterEnabled string
	}{
		{"default.redis7", "redis7", "no"},
		{"default.redis7.cluster.on", "redis7", "yes"},
		{"default.valkey8.cluster.on", "valkey8", "yes"},
		{"default.memcached1.6", "memcached1.6", ""},
	} {
		t.Run(tc.group, func(t *testing.T) {
			params, nodeTypes, order := describeAllParameters(t, s, tc.group, "")
			defaults, _ := engine.Parameters(tc.family)
			if got, want := len(params), len(defaults); got != want || !slices.IsSorted(order) {
				t.Errorf("got %d parameters (sorted %v), want %d sorted", got, slices.IsSorted(order), want)
			}
			if got := deref(params["cluster-enabled"].ParameterValue); got != tc.clusterEnabled {
				t.Errorf("cluster-enabled = %q, want %q", got, tc.clusterEnabled)
			}
			for name, p := range params {
				if deref(p.Source) != engine.SourceSystem {
					t.Errorf("%s has source %q, want system", name, deref(p.Source))
				}
			}
			if got, want := len(nodeTypes), len(engine.NodeTypeSpecificParameters(tc.family)); got != want || want == 0 {
				t.Errorf("got %d node-type-specific parameters, want %d (> 0)", got, want)
			}
			user, _, _ := describeAllParameters(t, s, tc.group, "user")
			if len(user) != 0 {
				t.Errorf("Source=user on a default group: got %d parameters, want none", len(user))
			}
		})
	}
}

func TestDescribeEngineDefaultParameters(t *testing.T) {
	s, _ := newGroupTestService(t)
	ctx := context.Background()
	defaults, _ := engine.Parameters("redis7")
	nodeTypes := engine.NodeTypeSpecificParameters("redis7")
	var got []api.Parameter
	var marker *string
	for page := 0; ; page++ {
		out, err := s.DescribeEngineDefaultParameters(ctx, &api.DescribeEngineDefaultParametersMessage{
			CacheParameterGroupFamily: ptr("redis7"), MaxRecords: ptr(int32(20)), Marker: marker,
		})
		if err != nil {
			t.Fatal(err)
		}
		ed := out.EngineDefaults
		if deref(ed.CacheParameterGroupFamily) != "redis7" {
			t.Errorf("family = %q, want redis7", deref(ed.CacheParameterGroupFamily))
		}
		if want := 0; page == 0 {
			want = len(nodeTypes)
			if len(ed.CacheNodeTypeSpecificParameters) != want {
				t.Errorf("page %d: %d node-type-specific parameters, want %d", page, len(ed.CacheNodeTypeSpecificParameters), want)
			}
		} else if len(ed.CacheNodeTypeSpecificParameters) != 0 {
			t.Errorf("page %d repeats the node-type-specific parameters", page)
		}
		if len(ed.Parameters) > 20 {
			t.Fatalf("page %d has %d parameters", page, len(ed.Parameters))
		}
		got = append(got, ed.Parameters...)
		if ed.Marker == nil {
			break
		}
		marker = ed.Marker
	}
	if len(got) != len(defaults) {
		t.Fatalf("got %d parameters, want %d", len(got), len(defaults))
	}
	for i, p := range defaults {
		want := api.Parameter{
			ParameterName: ptr(p.ParameterName), ParameterValue: ptr(p.ParameterValue), Description: optional(p.Description),
			Source: ptr("system"), DataType: ptr(p.DataType), AllowedValues: optional(p.AllowedValues),
			IsModifiable: ptr(p.IsModifiable), MinimumEngineVersion: ptr(p.MinimumEngineVersion), ChangeType: ptr(p.ChangeType),
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("parameter %d: got %s, want %s", i, dumpJSON(got[i]), dumpJSON(want))
		}
	}
	// The full shape of one node-type-specific parameter.
	out, err := s.DescribeEngineDefaultParameters(ctx, &api.DescribeEngineDefaultParametersMessage{CacheParameterGroupFamily: ptr("redis7")})
	if err != nil {
		t.Fatal(err)
	}
	var maxmemory *api.CacheNodeTypeSpecificParameter
	for i := range out.EngineDefaults.CacheNodeTypeSpecificParameters {
		if p := &out.EngineDefaults.CacheNodeTypeSpecificParameters[i]; deref(p.ParameterName) == "maxmemory" {
			maxmemory = p
		}
	}
	if maxmemory == nil {
		t.Fatal("maxmemory is not among the node-type-specific parameters")
	}
	if deref(maxmemory.DataType) != "integer" || deref(maxmemory.Source) != "system" || len(maxmemory.CacheNodeTypeSpecificValues) == 0 {
		t.Errorf("maxmemory = %s, want an integer system parameter with per-node-type values", dumpJSON(maxmemory))
	}
	for _, v := range maxmemory.CacheNodeTypeSpecificValues {
		if !strings.HasPrefix(deref(v.CacheNodeType), "cache.") || deref(v.Value) == "" {
			t.Errorf("node type value %q = %q", deref(v.CacheNodeType), deref(v.Value))
		}
	}
}
