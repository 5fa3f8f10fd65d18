package service

import (
	"context"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
)

// defaultVersion is the version a cluster gets when none is requested: the newest one this host runs
// exactly (so a reported version is never one that is not running), else the newest offered.
func (s *Service) defaultVersion(eng string) (engine.Version, bool) {
	vs := s.host.Versions(eng)
	for _, v := range slices.Backward(vs) {
		if v.Exact {
			return v, true
		}
	}
	if len(vs) == 0 {
		return engine.Version{}, false
	}
	return vs[len(vs)-1], true
}

// resolveVersion maps a requested version (possibly empty) to one this host runs.
func (s *Service) resolveVersion(eng, requested string) (engine.Version, error) {
	if requested == "" {
		if v, ok := s.defaultVersion(eng); ok {
			return v, nil
		}
		return engine.Version{}, api.InvalidParameterValueException("No version of %s can run on this ecache host.", eng)
	}
	v, err := s.host.Resolve(eng, requested)
	if err != nil {
		return engine.Version{}, api.InvalidParameterValueException("Cannot find version %s for %s.", requested, eng)
	}
	return v, nil
}

// DescribeCacheEngineVersions lists the engine versions this host can really run.
func (s *Service) DescribeCacheEngineVersions(ctx context.Context, in *api.DescribeCacheEngineVersionsMessage) (*api.CacheEngineVersionMessage, error) {
	max, err := maxRecords(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	var list []engine.Version
	for _, eng := range engine.Engines() {
		if in.Engine != nil && !strings.EqualFold(*in.Engine, eng) {
			continue
		}
		versions := s.host.Versions(eng)
		if deref(in.DefaultOnly) {
			versions = nil
			if v, ok := s.defaultVersion(eng); ok {
				versions = []engine.Version{v}
			}
		}
		for _, v := range versions {
			if in.EngineVersion != nil && *in.EngineVersion != v.EngineVersion {
				continue
			}
			if in.CacheParameterGroupFamily != nil && *in.CacheParameterGroupFamily != v.Family {
				continue
			}
			list = append(list, v)
		}
	}
	key := func(v engine.Version) string { return v.Engine + "/" + v.EngineVersion }
	page, marker := paginate(list, key, deref(in.Marker), max)
	out := &api.CacheEngineVersionMessage{CacheEngineVersions: []api.CacheEngineVersion{}, Marker: marker}
	for _, v := range page {
		out.CacheEngineVersions = append(out.CacheEngineVersions, api.CacheEngineVersion{
			Engine: ptr(v.Engine), EngineVersion: ptr(v.EngineVersion), CacheParameterGroupFamily: ptr(v.Family),
			CacheEngineDescription: ptr(v.CacheEngineDescription), CacheEngineVersionDescription: ptr(v.CacheEngineVersionDescription),
		})
	}
	return out, nil
}

// ListAllowedNodeTypeModifications lists the current-generation node types a cluster can scale to:
// larger ones up, smaller ones down. Memcached clusters cannot change node type.
func (s *Service) ListAllowedNodeTypeModifications(ctx context.Context, in *api.ListAllowedNodeTypeModificationsMessage) (*api.AllowedNodeTypeModificationsMessage, error) {
	rg := region(ctx)
	switch {
	case in.CacheClusterId == nil && in.ReplicationGroupId == nil:
		return nil, api.InvalidParameterCombinationException("Either CacheClusterId or ReplicationGroupId must be provided.")
	case in.ReplicationGroupId != nil && in.CacheClusterId == nil:
		return nil, api.ReplicationGroupNotFoundFault("ReplicationGroup %s not found", strings.ToLower(*in.ReplicationGroupId))
	}
	id := strings.ToLower(*in.CacheClusterId)
	obj, err := s.store.Get(ctx, resource.KindCluster, resource.Key(rg, id))
	if err != nil {
		return nil, api.CacheClusterNotFoundFault("CacheCluster not found: %s", id)
	}
	c, err := resource.Unmarshal[resource.Cluster](obj.Value)
	if err != nil {
		return nil, internal("list allowed node type modifications", err)
	}
	out := &api.AllowedNodeTypeModificationsMessage{ScaleUpModifications: []string{}, ScaleDownModifications: []string{}}
	if c.Engine == engine.EngineMemcached {
		return out, nil
	}
	cur, _ := engine.NodeType(c.NodeType)
	for _, name := range allowedNodeTypes(c) {
		nt, _ := engine.NodeType(name)
		if nt.MaxMemoryBytes > cur.MaxMemoryBytes {
			out.ScaleUpModifications = append(out.ScaleUpModifications, nt.Name)
		} else {
			out.ScaleDownModifications = append(out.ScaleDownModifications, nt.Name)
		}
	}
	return out, nil
}

// allowedNodeTypes lists the current-generation types a Valkey or Redis OSS cluster can move to.
func allowedNodeTypes(c *resource.Cluster) []string {
	if c.Engine == engine.EngineMemcached {
		return nil
	}
	var out []string
	for _, nt := range engine.NodeTypes() {
		if nt.Name != c.NodeType && nt.Generation == engine.GenerationCurrent && nt.SupportsEngine(c.Engine, c.EngineVersion) {
			out = append(out, nt.Name)
		}
	}
	return out
}
