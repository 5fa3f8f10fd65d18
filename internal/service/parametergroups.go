package service

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const (
	maxParameterGroupNameLen = 255
	// parameterGroupsPerRegion is AWS's quota of user parameter groups per region; default groups do not count.
	parameterGroupsPerRegion = 300
	// maxParametersPerModify is how many parameters one ModifyCacheParameterGroup may change.
	maxParametersPerModify = 20

	sourceUser              = "user"
	sourceEngineDefault     = "engine-default"
	clusterEnabledParameter = "cluster-enabled"
)

// CreateCacheParameterGroup records a user parameter group whose parameters all start at the family's defaults.
func (s *Service) CreateCacheParameterGroup(ctx context.Context, in *api.CreateCacheParameterGroupMessage) (*api.CreateCacheParameterGroupResult, error) {
	n, err := s.checkNew(parameterGroups, in.CacheParameterGroupName, "Description", in.Description, in.Tags)
	if err != nil {
		return nil, err
	}
	family := strings.ToLower(deref(in.CacheParameterGroupFamily))
	if family == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheParameterGroupFamily must be provided.")
	}
	if _, ok := engine.LookupFamily(family); !ok {
		return nil, api.InvalidParameterValueException("Invalid value %q for CacheParameterGroupFamily. Valid values: %s.", deref(in.CacheParameterGroupFamily), strings.Join(engine.Families(), ", "))
	}
	pg := &resource.ParameterGroup{Region: region(ctx), Name: n.name, Family: family, Description: n.description, Tags: n.tags}
	if err := s.storeNew(ctx, parameterGroups, n.name, pg, s.parameterGroupEvent(ctx, n.name, "Cache parameter group created")); err != nil {
		return nil, err
	}
	return &api.CreateCacheParameterGroupResult{CacheParameterGroup: s.renderParameterGroup(pg)}, nil
}

// DescribeCacheParameterGroups lists the default groups and the user groups of the caller's region by name.
func (s *Service) DescribeCacheParameterGroups(ctx context.Context, in *api.DescribeCacheParameterGroupsMessage) (*api.CacheParameterGroupsMessage, error) {
	var defaults []*resource.ParameterGroup
	for _, d := range engine.DefaultParameterGroups() {
		defaults = append(defaults, &resource.ParameterGroup{Region: region(ctx), Name: d.Name, Family: d.Family, Description: d.Description})
	}
	groups, next, err := describeNamed(ctx, s.view, parameterGroups,
		pageRequest{in.MaxRecords, in.Marker}, defaults,
		func(g *resource.ParameterGroup) string { return g.Name }, in.CacheParameterGroupName,
		func(g *resource.ParameterGroup) api.CacheParameterGroup { return *s.renderParameterGroup(g) })
	if err != nil {
		return nil, err
	}
	return &api.CacheParameterGroupsMessage{CacheParameterGroups: groups, Marker: next}, nil
}

// ModifyCacheParameterGroup stores new values for parameters of a user group; the controller hands them to the
// engines of the clusters that use the group.
func (s *Service) ModifyCacheParameterGroup(ctx context.Context, in *api.ModifyCacheParameterGroupMessage) (*api.CacheParameterGroupNameMessage, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheParameterGroupName))
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheParameterGroupName must be provided.")
	}
	if len(in.ParameterNameValues) == 0 {
		return nil, api.InvalidParameterValueException("The parameter ParameterNameValues must contain at least one parameter name and value.")
	}
	if len(in.ParameterNameValues) > maxParametersPerModify {
		return nil, api.InvalidParameterValueException("At most %d parameters can be modified in one request; %d were given.", maxParametersPerModify, len(in.ParameterNameValues))
	}
	err := s.updateParameterGroup(ctx, rg, name, "modified", func(pg *resource.ParameterGroup) error {
		for _, nv := range in.ParameterNameValues {
			pname := deref(nv.ParameterName)
			if pname == "" {
				return api.InvalidParameterValueException("Every entry of ParameterNameValues must have a ParameterName.")
			}
			if nv.ParameterValue == nil {
				return api.InvalidParameterValueException("The parameter %s must be given a ParameterValue.", pname)
			}
			p, ok := engine.LookupParameter(pg.Family, pname)
			if !ok {
				return api.InvalidParameterValueException("Unknown parameter %s for cache parameter group family %s.", pname, pg.Family)
			}
			// cluster-enabled is fixed in the default groups but chooses cluster mode in a user group.
			check := engine.ValidateParameterValue
			if pname == clusterEnabledParameter {
				check = engine.CheckParameterValue
			}
			if err := check(p, *nv.ParameterValue); err != nil {
				return parameterFault(p, *nv.ParameterValue, err)
			}
			if pg.Values == nil {
				pg.Values = map[string]string{}
			}
			pg.Values[pname] = *nv.ParameterValue
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CacheParameterGroupNameMessage{CacheParameterGroupName: ptr(name)}, nil
}

// ResetCacheParameterGroup puts all or the named parameters of a user group back to the family's defaults.
func (s *Service) ResetCacheParameterGroup(ctx context.Context, in *api.ResetCacheParameterGroupMessage) (*api.CacheParameterGroupNameMessage, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheParameterGroupName))
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheParameterGroupName must be provided.")
	}
	all := deref(in.ResetAllParameters)
	switch {
	case all && len(in.ParameterNameValues) > 0:
		return nil, api.InvalidParameterCombinationException("Specify either ResetAllParameters or ParameterNameValues, not both.")
	case !all && len(in.ParameterNameValues) == 0:
		return nil, api.InvalidParameterValueException("Specify ResetAllParameters or at least one parameter name in ParameterNameValues.")
	}
	err := s.updateParameterGroup(ctx, rg, name, "reset", func(pg *resource.ParameterGroup) error {
		if all {
			pg.Values = nil
			return nil
		}
		for _, nv := range in.ParameterNameValues {
			pname := deref(nv.ParameterName)
			if pname == "" {
				return api.InvalidParameterValueException("Every entry of ParameterNameValues must have a ParameterName.")
			}
			if _, ok := engine.LookupParameter(pg.Family, pname); !ok {
				return api.InvalidParameterValueException("Unknown parameter %s for cache parameter group family %s.", pname, pg.Family)
			}
			delete(pg.Values, pname)
		}
		if len(pg.Values) == 0 {
			pg.Values = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.CacheParameterGroupNameMessage{CacheParameterGroupName: ptr(name)}, nil
}

// updateParameterGroup runs fn on a stored user group in one transaction, refuses to change the cluster mode of
// a group that clusters use, writes the group back and records an event.
func (s *Service) updateParameterGroup(ctx context.Context, rg, name, verb string, fn func(pg *resource.ParameterGroup) error) error {
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, ok := defaultParameterGroup(name); ok {
			return api.InvalidCacheParameterGroupStateFault("The default cache parameter group %s cannot be modified; create a cache parameter group of family %s instead.", name, familyOfDefault(name))
		}
		pg, rev, err := getParameterGroup(tx.Get, rg, name)
		if err != nil {
			return err
		}
		before := clusterMode(pg.Values)
		if err := fn(pg); err != nil {
			return err
		}
		if clusterMode(pg.Values) != before {
			id, err := clusterUsing(tx, rg, func(c *resource.Cluster) bool { return c.ParameterGroup == name })
			if err != nil {
				return err
			}
			if id != "" {
				return api.InvalidCacheParameterGroupStateFault("The parameter cluster-enabled of cache parameter group %s cannot change while cache cluster %s uses the group.", name, id)
			}
		}
		if _, err := tx.Put(resource.KindParameterGroup, resource.Key(rg, name), resource.Marshal(pg), rev); err != nil {
			return err
		}
		return resource.AddEvent(tx, s.now().UTC(), 0, rg, resource.SourceParameterGroup, name, "Cache parameter group "+verb)
	})
	return faultOrInternal("update cache parameter group", err)
}

// clusterMode is the cluster-enabled value a group's modified parameters give it.
func clusterMode(values map[string]string) bool { return values[clusterEnabledParameter] == "yes" }

func familyOfDefault(name string) string {
	g, _ := defaultParameterGroup(name)
	return g.Family
}

// parameterFault turns an engine validation error into InvalidParameterValue.
func parameterFault(p engine.Param, value string, err error) error {
	if errors.Is(err, engine.ErrParameterNotModifiable) {
		return api.InvalidParameterValueException("The parameter %s is not modifiable.", p.ParameterName)
	}
	var pe *engine.ParameterError
	if errors.As(err, &pe) {
		return api.InvalidParameterValueException("Invalid value %q for parameter %s: %s.", value, p.ParameterName, pe.Reason)
	}
	return api.InvalidParameterValueException("Invalid value %q for parameter %s.", value, p.ParameterName)
}

// DeleteCacheParameterGroup removes a user group that no cluster uses.
func (s *Service) DeleteCacheParameterGroup(ctx context.Context, in *api.DeleteCacheParameterGroupMessage) error {
	name := strings.ToLower(deref(in.CacheParameterGroupName))
	return s.deleteNamed(ctx, parameterGroups, in.CacheParameterGroupName, s.parameterGroupEvent(ctx, name, "Cache parameter group deleted"))
}

// parameterGroupEvent records message about group name, inside a transaction.
func (s *Service) parameterGroupEvent(ctx context.Context, name, message string) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		return resource.AddEvent(tx, s.now().UTC(), 0, region(ctx), resource.SourceParameterGroup, name, message)
	}
}

// getParameterGroup reads a stored user group and its revision with get (a Tx.Get or a Store.Get).
func getParameterGroup(get func(kind, key string) (store.Object, error), rg, name string) (*resource.ParameterGroup, int64, error) {
	return getNamed[resource.ParameterGroup](get, parameterGroups, rg, name)
}

// DescribeCacheParameters lists a group's parameters with their current values: Source "user" for the ones the
// group modified, "system" for the ones at the family's default. Source filters: user (modified only), system
// and engine-default (unmodified only). The node-type-specific parameters come with the first page.
func (s *Service) DescribeCacheParameters(ctx context.Context, in *api.DescribeCacheParametersMessage) (*api.CacheParameterGroupDetails, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheParameterGroupName))
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheParameterGroupName must be provided.")
	}
	max, err := maxRecords(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	source := deref(in.Source)
	switch source {
	case "", sourceUser, engine.SourceSystem, sourceEngineDefault:
	default:
		return nil, api.InvalidParameterValueException("Invalid value %q for Source. Valid values: user, system, engine-default.", source)
	}
	var (
		family string
		params []engine.Param
	)
	if d, ok := defaultParameterGroup(name); ok {
		family = d.Family
		params, _ = engine.ParametersForGroup(d.Family, d.ClusterEnabled)
	} else {
		get := func(kind, key string) (store.Object, error) { return s.store.Get(ctx, kind, key) }
		pg, _, err := getParameterGroup(get, rg, name)
		if err != nil {
			return nil, faultOrInternal("describe cache parameters", err)
		}
		family = pg.Family
		params, _ = engine.Parameters(pg.Family)
		for i := range params {
			if v, ok := pg.Values[params[i].ParameterName]; ok {
				params[i].ParameterValue = v
				params[i].Source = sourceUser
			}
		}
	}
	if source != "" {
		params = slices.DeleteFunc(params, func(p engine.Param) bool { return (p.Source == sourceUser) != (source == sourceUser) })
	}
	page, marker := paginate(params, func(p engine.Param) string { return p.ParameterName }, deref(in.Marker), max)
	out := &api.CacheParameterGroupDetails{
		Parameters:                      renderParameters(page),
		CacheNodeTypeSpecificParameters: []api.CacheNodeTypeSpecificParameter{},
		Marker:                          marker,
	}
	if deref(in.Marker) == "" && source != sourceUser {
		out.CacheNodeTypeSpecificParameters = renderNodeTypeParameters(engine.NodeTypeSpecificParameters(family))
	}
	return out, nil
}

// DescribeEngineDefaultParameters lists a family's parameters at their defaults; the node-type-specific
// parameters come with the first page.
func (s *Service) DescribeEngineDefaultParameters(ctx context.Context, in *api.DescribeEngineDefaultParametersMessage) (*api.DescribeEngineDefaultParametersResult, error) {
	family := deref(in.CacheParameterGroupFamily)
	if family == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheParameterGroupFamily must be provided.")
	}
	params, ok := engine.Parameters(family)
	if !ok {
		return nil, api.InvalidParameterValueException("Invalid value %q for CacheParameterGroupFamily. Valid values: %s.", family, strings.Join(engine.Families(), ", "))
	}
	max, err := maxRecords(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	page, marker := paginate(params, func(p engine.Param) string { return p.ParameterName }, deref(in.Marker), max)
	out := &api.EngineDefaults{
		CacheParameterGroupFamily:       ptr(family),
		Parameters:                      renderParameters(page),
		CacheNodeTypeSpecificParameters: []api.CacheNodeTypeSpecificParameter{},
		Marker:                          marker,
	}
	if deref(in.Marker) == "" {
		out.CacheNodeTypeSpecificParameters = renderNodeTypeParameters(engine.NodeTypeSpecificParameters(family))
	}
	return &api.DescribeEngineDefaultParametersResult{EngineDefaults: out}, nil
}

func (s *Service) renderParameterGroup(pg *resource.ParameterGroup) *api.CacheParameterGroup {
	return &api.CacheParameterGroup{
		ARN:                       ptr(s.arn(pg.Region, "parametergroup", pg.Name)),
		CacheParameterGroupFamily: ptr(pg.Family),
		CacheParameterGroupName:   ptr(pg.Name),
		Description:               ptr(pg.Description),
		IsGlobal:                  ptr(false),
	}
}

func renderParameters(ps []engine.Param) []api.Parameter {
	out := make([]api.Parameter, 0, len(ps))
	for _, p := range ps {
		out = append(out, api.Parameter{
			ParameterName:        ptr(p.ParameterName),
			ParameterValue:       ptr(p.ParameterValue),
			Description:          optional(p.Description),
			Source:               ptr(p.Source),
			DataType:             ptr(p.DataType),
			AllowedValues:        optional(p.AllowedValues),
			IsModifiable:         ptr(p.IsModifiable),
			MinimumEngineVersion: ptr(p.MinimumEngineVersion),
			ChangeType:           ptr(p.ChangeType),
		})
	}
	return out
}

func renderNodeTypeParameters(ps []engine.NodeTypeParam) []api.CacheNodeTypeSpecificParameter {
	out := make([]api.CacheNodeTypeSpecificParameter, 0, len(ps))
	for _, p := range ps {
		values := make([]api.CacheNodeTypeSpecificValue, 0, len(p.Values))
		for _, v := range p.Values {
			values = append(values, api.CacheNodeTypeSpecificValue{CacheNodeType: ptr(v.CacheNodeType), Value: ptr(v.Value)})
		}
		out = append(out, api.CacheNodeTypeSpecificParameter{
			ParameterName:               ptr(p.ParameterName),
			Description:                 optional(p.Description),
			Source:                      ptr(p.Source),
			DataType:                    ptr(p.DataType),
			AllowedValues:               optional(p.AllowedValues),
			IsModifiable:                ptr(p.IsModifiable),
			MinimumEngineVersion:        ptr(p.MinimumEngineVersion),
			ChangeType:                  ptr(p.ChangeType),
			CacheNodeTypeSpecificValues: values,
		})
	}
	return out
}

// optional is nil for an empty string, so that the member is left out of the response.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Helpers shared by the parameter, subnet and security group kinds.

// parameterGroups is the named kind of cache parameter groups; the defaults are never stored.
var parameterGroups = namedKind{
	kind: resource.KindParameterGroup, noun: "cache parameter group", nameParam: "CacheParameterGroupName",
	maxLen: maxParameterGroupNameLen, quota: parameterGroupsPerRegion,
	isDefault:   func(name string) bool { _, ok := defaultParameterGroup(name); return ok },
	existsFault: api.CacheParameterGroupAlreadyExistsFault, fullFault: api.CacheParameterGroupQuotaExceededFault,
	notFound: func(name string) error {
		return api.CacheParameterGroupNotFoundFault("CacheParameterGroup not found: %s", name)
	},
	undeletable: func(name string) error {
		return api.InvalidCacheParameterGroupStateFault("The default cache parameter group %s cannot be deleted.", name)
	},
	usedBy: func(c *resource.Cluster, name string) bool { return c.ParameterGroup == name },
	inUse: func(name, id string) error {
		return api.InvalidCacheParameterGroupStateFault("Cache parameter group %s cannot be deleted: it is in use by cache cluster %s.", name, id)
	},
}
