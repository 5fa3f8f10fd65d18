package service

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const (
	// defaultSecurityGroupName exists in every region without being created. It is stored only once an
	// ingress rule is authorized on it.
	defaultSecurityGroupName = "default"
	maxSecurityGroupNameLen  = 255
	// securityGroupsPerRegion is AWS's quota; the default group does not count.
	securityGroupsPerRegion = 50
	ingressAuthorized       = "authorized"
)

// CreateCacheSecurityGroup records a cache security group in the caller's region.
func (s *Service) CreateCacheSecurityGroup(ctx context.Context, in *api.CreateCacheSecurityGroupMessage) (*api.CreateCacheSecurityGroupResult, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheSecurityGroupName))
	if name == defaultSecurityGroupName {
		return nil, api.CacheSecurityGroupAlreadyExistsFault("Cache security group %s already exists.", name)
	}
	if err := validIdentifier("CacheSecurityGroupName", name, maxSecurityGroupNameLen); err != nil {
		return nil, err
	}
	desc := deref(in.Description)
	if desc == "" {
		return nil, api.InvalidParameterValueException("The parameter Description must be provided and must not be blank.")
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	g := &resource.SecurityGroup{Region: rg, Name: name, Description: desc, Tags: tags}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		user := func(o store.Object) bool { return o.Key != resource.Key(rg, defaultSecurityGroupName) }
		return createNamed(tx, resource.KindSecurityGroup, rg, name, g, securityGroupsPerRegion, user,
			api.CacheSecurityGroupAlreadyExistsFault("Cache security group %s already exists.", name),
			api.CacheSecurityGroupQuotaExceededFault("You have reached the quota of %d cache security groups in this region.", securityGroupsPerRegion))
	})
	if err != nil {
		return nil, faultOrInternal("create cache security group", err)
	}
	return &api.CreateCacheSecurityGroupResult{CacheSecurityGroup: s.renderSecurityGroup(g)}, nil
}

// DescribeCacheSecurityGroups lists the default group and the user groups of the caller's region by name.
func (s *Service) DescribeCacheSecurityGroups(ctx context.Context, in *api.DescribeCacheSecurityGroupsMessage) (*api.CacheSecurityGroupMessage, error) {
	rg := region(ctx)
	groups, max, err := regionList[resource.SecurityGroup](ctx, s.store, "describe cache security groups", resource.KindSecurityGroup, in.MaxRecords, nil)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(groups, func(g *resource.SecurityGroup) bool { return g.Name == defaultSecurityGroupName }) {
		groups = append(groups, defaultSecurityGroup(rg))
	}
	if name := strings.ToLower(deref(in.CacheSecurityGroupName)); name != "" {
		groups = slices.DeleteFunc(groups, func(g *resource.SecurityGroup) bool { return g.Name != name })
		if len(groups) == 0 {
			return nil, api.CacheSecurityGroupNotFoundFault("CacheSecurityGroup not found: %s", name)
		}
	}
	slices.SortFunc(groups, func(a, b *resource.SecurityGroup) int { return strings.Compare(a.Name, b.Name) })
	out := &api.CacheSecurityGroupMessage{}
	out.CacheSecurityGroups, out.Marker = renderPage(groups, func(g *resource.SecurityGroup) string { return g.Name }, in.Marker, max,
		func(g *resource.SecurityGroup) api.CacheSecurityGroup { return *s.renderSecurityGroup(g) })
	return out, nil
}

// DeleteCacheSecurityGroup removes a user group that no cluster uses.
func (s *Service) DeleteCacheSecurityGroup(ctx context.Context, in *api.DeleteCacheSecurityGroupMessage) error {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheSecurityGroupName))
	if name == "" {
		return api.InvalidParameterValueException("The parameter CacheSecurityGroupName must be provided.")
	}
	if name == defaultSecurityGroupName {
		return api.InvalidCacheSecurityGroupStateFault("The default cache security group cannot be deleted.")
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		_, rev, err := getSecurityGroup(tx, rg, name)
		if err != nil {
			return err
		}
		id, err := clusterUsing(tx, rg, func(c *resource.Cluster) bool { return slices.Contains(c.SecurityGroupNames, name) })
		if err != nil {
			return err
		}
		if id != "" {
			return api.InvalidCacheSecurityGroupStateFault("Cache security group %s cannot be deleted: it is in use by cache cluster %s.", name, id)
		}
		return tx.Delete(resource.KindSecurityGroup, resource.Key(rg, name), rev)
	})
	return faultOrInternal("delete cache security group", err)
}

// AuthorizeCacheSecurityGroupIngress allows an EC2 security group on a cache security group.
func (s *Service) AuthorizeCacheSecurityGroupIngress(ctx context.Context, in *api.AuthorizeCacheSecurityGroupIngressMessage) (*api.AuthorizeCacheSecurityGroupIngressResult, error) {
	g, err := s.updateIngress(ctx, in.CacheSecurityGroupName, in.EC2SecurityGroupName, in.EC2SecurityGroupOwnerId,
		func(g *resource.SecurityGroup, src resource.IngressSource) error {
			if slices.Contains(g.Ingress, src) {
				return api.AuthorizationAlreadyExistsFault("EC2 security group %s owned by %s is already authorized on cache security group %s.", src.GroupName, src.OwnerID, g.Name)
			}
			g.Ingress = append(g.Ingress, src)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return &api.AuthorizeCacheSecurityGroupIngressResult{CacheSecurityGroup: s.renderSecurityGroup(g)}, nil
}

// RevokeCacheSecurityGroupIngress removes an EC2 security group from a cache security group.
func (s *Service) RevokeCacheSecurityGroupIngress(ctx context.Context, in *api.RevokeCacheSecurityGroupIngressMessage) (*api.RevokeCacheSecurityGroupIngressResult, error) {
	g, err := s.updateIngress(ctx, in.CacheSecurityGroupName, in.EC2SecurityGroupName, in.EC2SecurityGroupOwnerId,
		func(g *resource.SecurityGroup, src resource.IngressSource) error {
			i := slices.Index(g.Ingress, src)
			if i < 0 {
				return api.AuthorizationNotFoundFault("EC2 security group %s owned by %s is not authorized on cache security group %s.", src.GroupName, src.OwnerID, g.Name)
			}
			g.Ingress = slices.Delete(g.Ingress, i, i+1)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return &api.RevokeCacheSecurityGroupIngressResult{CacheSecurityGroup: s.renderSecurityGroup(g)}, nil
}

// updateIngress validates an ingress request and runs fn on the group inside one transaction.
func (s *Service) updateIngress(ctx context.Context, groupName, ec2Name, ownerID *string, fn func(*resource.SecurityGroup, resource.IngressSource) error) (*resource.SecurityGroup, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(groupName))
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheSecurityGroupName must be provided.")
	}
	src := resource.IngressSource{GroupName: deref(ec2Name), OwnerID: deref(ownerID)}
	if src.GroupName == "" {
		return nil, api.InvalidParameterValueException("The parameter EC2SecurityGroupName must be provided.")
	}
	if src.OwnerID == "" {
		return nil, api.InvalidParameterValueException("The parameter EC2SecurityGroupOwnerId must be provided.")
	}
	if !validAccountID(src.OwnerID) {
		return nil, api.InvalidParameterValueException("Invalid EC2SecurityGroupOwnerId %q: it must be a 12-digit account number.", src.OwnerID)
	}
	var g *resource.SecurityGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var rev int64
		var err error
		if g, rev, err = getSecurityGroup(tx, rg, name); err != nil {
			return err
		}
		if err := fn(g, src); err != nil {
			return err
		}
		// The default group has revision 0 until it is first stored: Put then creates it.
		_, err = tx.Put(resource.KindSecurityGroup, resource.Key(rg, name), resource.Marshal(g), rev)
		return err
	})
	if err != nil {
		return nil, faultOrInternal("update cache security group ingress", err)
	}
	return g, nil
}

func validAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for i := range len(id) {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func defaultSecurityGroup(rg string) *resource.SecurityGroup {
	return &resource.SecurityGroup{Region: rg, Name: defaultSecurityGroupName, Description: "default"}
}

// getSecurityGroup reads a group and its revision; the default group has revision 0 until it is stored.
func getSecurityGroup(tx store.Tx, rg, name string) (*resource.SecurityGroup, int64, error) {
	obj, err := tx.Get(resource.KindSecurityGroup, resource.Key(rg, name))
	if errors.Is(err, store.ErrNotFound) {
		if name == defaultSecurityGroupName {
			return defaultSecurityGroup(rg), store.MustNotExist, nil
		}
		return nil, 0, api.CacheSecurityGroupNotFoundFault("CacheSecurityGroup not found: %s", name)
	} else if err != nil {
		return nil, 0, err
	}
	g, err := resource.Unmarshal[resource.SecurityGroup](obj.Value)
	if err != nil {
		return nil, 0, err
	}
	return g, obj.Revision, nil
}

func (s *Service) renderSecurityGroup(g *resource.SecurityGroup) *api.CacheSecurityGroup {
	out := &api.CacheSecurityGroup{
		ARN:                    ptr(s.arn(g.Region, "securitygroup", g.Name)),
		CacheSecurityGroupName: ptr(g.Name),
		Description:            ptr(g.Description),
		OwnerId:                ptr(s.cfg.AccountID),
		EC2SecurityGroups:      make([]api.EC2SecurityGroup, 0, len(g.Ingress)),
	}
	for _, src := range g.Ingress {
		out.EC2SecurityGroups = append(out.EC2SecurityGroups, api.EC2SecurityGroup{
			EC2SecurityGroupName:    ptr(src.GroupName),
			EC2SecurityGroupOwnerId: ptr(src.OwnerID),
			Status:                  ptr(ingressAuthorized),
		})
	}
	return out
}
