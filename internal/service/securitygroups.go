package service

import (
	"context"
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
	n, err := s.checkNew(securityGroups, in.CacheSecurityGroupName, "Description", in.Description, in.Tags)
	if err != nil {
		return nil, err
	}
	g := &resource.SecurityGroup{Region: region(ctx), Name: n.name, Description: n.description, Tags: n.tags}
	if err := s.storeNew(ctx, securityGroups, n.name, g, nil); err != nil {
		return nil, err
	}
	return &api.CreateCacheSecurityGroupResult{CacheSecurityGroup: s.renderSecurityGroup(g)}, nil
}

// DescribeCacheSecurityGroups lists the default group and the user groups of the caller's region by name.
func (s *Service) DescribeCacheSecurityGroups(ctx context.Context, in *api.DescribeCacheSecurityGroupsMessage) (*api.CacheSecurityGroupMessage, error) {
	groups, next, err := describeNamed(ctx, s.view, securityGroups,
		pageRequest{in.MaxRecords, in.Marker}, []*resource.SecurityGroup{defaultSecurityGroup(region(ctx))},
		func(g *resource.SecurityGroup) string { return g.Name }, in.CacheSecurityGroupName,
		func(g *resource.SecurityGroup) api.CacheSecurityGroup { return *s.renderSecurityGroup(g) })
	if err != nil {
		return nil, err
	}
	return &api.CacheSecurityGroupMessage{CacheSecurityGroups: groups, Marker: next}, nil
}

// DeleteCacheSecurityGroup removes a user group that no cluster uses.
func (s *Service) DeleteCacheSecurityGroup(ctx context.Context, in *api.DeleteCacheSecurityGroupMessage) error {
	return s.deleteNamed(ctx, securityGroups, in.CacheSecurityGroupName, nil)
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
	g, rev, err := getNamed[resource.SecurityGroup](tx.Get, securityGroups, rg, name)
	if name == defaultSecurityGroupName && api.IsFault(err) {
		return defaultSecurityGroup(rg), store.MustNotExist, nil
	}
	return g, rev, err
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

// securityGroups is the named kind of cache security groups; only user groups count toward the quota.
var securityGroups = namedKind{
	kind: resource.KindSecurityGroup, noun: "cache security group", nameParam: "CacheSecurityGroupName",
	maxLen: maxSecurityGroupNameLen, quota: securityGroupsPerRegion,
	counts:      func(o store.Object) bool { return !strings.HasSuffix(o.Key, "/"+defaultSecurityGroupName) },
	isDefault:   func(name string) bool { return name == defaultSecurityGroupName },
	existsFault: api.CacheSecurityGroupAlreadyExistsFault, fullFault: api.CacheSecurityGroupQuotaExceededFault,
	notFound: func(name string) error {
		return api.CacheSecurityGroupNotFoundFault("CacheSecurityGroup not found: %s", name)
	},
	undeletable: func(string) error {
		return api.InvalidCacheSecurityGroupStateFault("The default cache security group cannot be deleted.")
	},
	usedBy: func(c *resource.Cluster, name string) bool { return slices.Contains(c.SecurityGroupNames, name) },
	inUse: func(name, id string) error {
		return api.InvalidCacheSecurityGroupStateFault("Cache security group %s cannot be deleted: it is in use by cache cluster %s.", name, id)
	},
}
