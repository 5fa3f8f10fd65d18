package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// taggable maps an ARN resource type to its store kind and the fault for a missing resource.
var taggable = map[string]struct {
	kind     string
	notFound func(format string, args ...any) *api.Error
}{
	"cluster":                 {resource.KindCluster, api.CacheClusterNotFoundFault},
	"parametergroup":          {resource.KindParameterGroup, api.CacheParameterGroupNotFoundFault},
	"subnetgroup":             {resource.KindSubnetGroup, api.CacheSubnetGroupNotFoundFault},
	"securitygroup":           {resource.KindSecurityGroup, api.CacheSecurityGroupNotFoundFault},
	"replicationgroup":        {"replication-group", api.ReplicationGroupNotFoundFault},
	"snapshot":                {"snapshot", api.SnapshotNotFoundFault},
	"user":                    {"user", api.UserNotFoundFault},
	"usergroup":               {"user-group", api.UserGroupNotFoundFault},
	"serverlesscache":         {"serverless-cache", api.ServerlessCacheNotFoundFault},
	"serverlesscachesnapshot": {"serverless-cache-snapshot", api.ServerlessCacheSnapshotNotFoundFault},
	"reserved-instance":       {"reserved-cache-node", api.ReservedCacheNodeNotFoundFault},
}

// An ARN's region and resource id are at most this long; a longer one names nothing ElastiCache could have.
const (
	maxRegionLen        = 64
	maxARNResourceIDLen = 255
)

// taggedResource is a resource named by an ARN.
type taggedResource struct {
	kind, key, id string
	notFound      func(format string, args ...any) *api.Error
}

// parseTaggableARN checks arn:aws:elasticache:<region>:<account>:<type>:<id>.
func (s *Service) parseTaggableARN(arn string) (taggedResource, error) {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "elasticache" || parts[3] == "" || parts[6] == "" ||
		len(parts[3]) > maxRegionLen || len(parts[6]) > maxARNResourceIDLen {
		return taggedResource{}, api.InvalidARNFault("The ARN %s is not valid.", arn)
	}
	if strings.HasPrefix(parts[1], "aws") == false || parts[4] != s.cfg.AccountID {
		return taggedResource{}, api.InvalidARNFault("The ARN %s is not valid for this account.", arn)
	}
	t, ok := taggable[parts[5]]
	if !ok {
		return taggedResource{}, api.InvalidARNFault("The ARN %s names an unknown resource type %s.", arn, parts[5])
	}
	return taggedResource{kind: t.kind, key: resource.Key(parts[3], parts[6]), id: parts[6], notFound: t.notFound}, nil
}

// isDefaultGroup reports resources that AWS does not let you tag.
func isDefaultGroup(r taggedResource) bool {
	switch r.kind {
	case resource.KindParameterGroup:
		_, ok := defaultParameterGroup(r.id)
		return ok
	case resource.KindSecurityGroup, resource.KindSubnetGroup:
		return r.id == "default"
	}
	return false
}

// withTags runs fn on the tags of the resource named by arn and stores the result when write is set.
func (s *Service) withTags(ctx context.Context, arn string, write bool, fn func([]resource.Tag) ([]resource.Tag, error)) ([]resource.Tag, error) {
	r, err := s.parseTaggableARN(arn)
	if err != nil {
		return nil, err
	}
	if isDefaultGroup(r) {
		if write {
			return nil, api.InvalidParameterValueException("Default groups cannot be tagged: %s.", arn)
		}
		return nil, nil
	}
	var tags []resource.Tag
	err = s.store.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(r.kind, r.key)
		if errors.Is(err, store.ErrNotFound) {
			return r.notFound("%s not found: %s", arn, r.id)
		} else if err != nil {
			return err
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(obj.Value, &fields); err != nil {
			return err
		}
		if st := fields["status"]; r.kind == resource.KindCluster && string(st) == `"deleting"` {
			return api.InvalidCacheClusterStateFault("Cluster not in available state to perform tagging operations.")
		}
		if raw, ok := fields["tags"]; ok {
			if err := json.Unmarshal(raw, &tags); err != nil {
				return err
			}
		}
		tags, err = fn(tags)
		if err != nil || !write {
			return err
		}
		fields["tags"] = resource.Marshal(tags)
		_, err = tx.Put(r.kind, r.key, resource.Marshal(fields), obj.Revision)
		return err
	})
	if err != nil && !api.IsFault(err) {
		return nil, internal("tags", err)
	}
	return tags, err
}

func tagList(tags []resource.Tag) *api.TagListMessage {
	out := &api.TagListMessage{TagList: []api.Tag{}}
	for _, t := range tags {
		out.TagList = append(out.TagList, api.Tag{Key: ptr(t.Key), Value: ptr(t.Value)})
	}
	return out
}

// AddTagsToResource adds or replaces tags, up to the quota per resource.
func (s *Service) AddTagsToResource(ctx context.Context, in *api.AddTagsToResourceMessage) (*api.TagListMessage, error) {
	tags, err := s.withTags(ctx, deref(in.ResourceName), true, func(cur []resource.Tag) ([]resource.Tag, error) {
		add, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
		if err != nil {
			return nil, err
		}
		for _, t := range add {
			cur = mergeTag(cur, t)
		}
		if len(cur) > s.cfg.Quotas.TagsPerResource {
			return nil, api.TagQuotaPerResourceExceeded("The request would give the resource %d tags; at most %d are allowed.", len(cur), s.cfg.Quotas.TagsPerResource)
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return tagList(tags), nil
}

// ListTagsForResource returns a resource's tags.
func (s *Service) ListTagsForResource(ctx context.Context, in *api.ListTagsForResourceMessage) (*api.TagListMessage, error) {
	tags, err := s.withTags(ctx, deref(in.ResourceName), false, func(cur []resource.Tag) ([]resource.Tag, error) { return cur, nil })
	if err != nil {
		return nil, err
	}
	return tagList(tags), nil
}

// RemoveTagsFromResource removes tags by key; a key the resource does not have is TagNotFound.
func (s *Service) RemoveTagsFromResource(ctx context.Context, in *api.RemoveTagsFromResourceMessage) (*api.TagListMessage, error) {
	tags, err := s.withTags(ctx, deref(in.ResourceName), true, func(cur []resource.Tag) ([]resource.Tag, error) {
		for _, k := range in.TagKeys {
			i := slices.IndexFunc(cur, func(t resource.Tag) bool { return t.Key == k })
			if i < 0 {
				return nil, api.TagNotFoundFault("Tag %s not found on %s.", k, deref(in.ResourceName))
			}
			cur = slices.Delete(cur, i, i+1)
		}
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	return tagList(tags), nil
}
