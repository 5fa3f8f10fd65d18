package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// ecache runs every node on one host, so there is one network: a single VPC per account, identified by a
// fake but stable id, whose subnets carry IPv4 and IPv6 (the host's two loopbacks) and so support every
// network type. Subnets are names the user gives; each lands in one of the region's six Availability
// Zones (a to f), chosen from its id so that it stays the same on every call.

const (
	defaultSubnetGroupName = "default"
	maxSubnetGroupNameLen  = 255
	// subnetGroupsPerRegion and subnetsPerSubnetGroup are AWS's quotas; the default group does not count.
	subnetGroupsPerRegion = 300
	subnetsPerSubnetGroup = 20
	availabilityZones     = 6
)

// vpcID is the id of ecache's single local network, derived from the account id.
func (s *Service) vpcID() string {
	return "vpc-" + fakeHex("ecache-vpc:"+s.cfg.AccountID)
}

// fakeHex is 17 hex digits derived from seed, the length of current AWS resource ids.
func fakeHex(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])[:17]
}

// subnetAZ is the Availability Zone of a subnet: the region plus a letter a..f picked from the subnet id.
func subnetAZ(rg, subnetID string) string {
	return fmt.Sprintf("%s%c", rg, 'a'+subnetZone(subnetID))
}

func subnetZone(subnetID string) int {
	h := fnv.New32a()
	h.Write([]byte(subnetID))
	return int(h.Sum32() % availabilityZones)
}

// defaultSubnets are the subnets of the default subnet group: one in each Availability Zone of the region,
// like a default VPC, with ids derived from the account and region.
func (s *Service) defaultSubnets(rg string) []string {
	ids := make([]string, availabilityZones)
	for i, found := 0, 0; found < availabilityZones; i++ {
		id := "subnet-" + fakeHex(fmt.Sprintf("ecache-subnet:%s:%s:%d", s.cfg.AccountID, rg, i))
		if z := subnetZone(id); ids[z] == "" {
			ids[z] = id
			found++
		}
	}
	return ids
}

func (s *Service) defaultSubnetGroup(rg string) *resource.SubnetGroup {
	return &resource.SubnetGroup{Region: rg, Name: defaultSubnetGroupName, Description: "default", SubnetIDs: s.defaultSubnets(rg)}
}

// validSubnets checks a subnet id list: 1 to 20 ids (duplicates count once), each subnet- and hex digits.
func validSubnets(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, api.InvalidParameterValueException("The parameter SubnetIds must be provided.")
	}
	var out []string
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > subnetsPerSubnetGroup {
		return nil, api.CacheSubnetQuotaExceededFault("The request would put %d subnets in the cache subnet group; at most %d are allowed.", len(out), subnetsPerSubnetGroup)
	}
	for _, id := range out {
		hexPart, ok := strings.CutPrefix(id, "subnet-")
		ok = ok && hexPart != ""
		for i := 0; ok && i < len(hexPart); i++ {
			c := hexPart[i]
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
		}
		if !ok {
			return nil, api.InvalidSubnet("The subnet identifier %s is invalid: subnet ids are subnet- followed by lower-case hexadecimal digits.", id)
		}
	}
	return out, nil
}

// CreateCacheSubnetGroup records a subnet group in the caller's region.
func (s *Service) CreateCacheSubnetGroup(ctx context.Context, in *api.CreateCacheSubnetGroupMessage) (*api.CreateCacheSubnetGroupResult, error) {
	n, err := s.checkNew(subnetGroups, in.CacheSubnetGroupName, "CacheSubnetGroupDescription", in.CacheSubnetGroupDescription, in.Tags)
	if err != nil {
		return nil, err
	}
	subnets, err := validSubnets(in.SubnetIds)
	if err != nil {
		return nil, err
	}
	g := &resource.SubnetGroup{Region: region(ctx), Name: n.name, Description: n.description, SubnetIDs: subnets, Tags: n.tags}
	if err := s.storeNew(ctx, subnetGroups, n.name, g, nil); err != nil {
		return nil, err
	}
	return &api.CreateCacheSubnetGroupResult{CacheSubnetGroup: s.renderSubnetGroup(g)}, nil
}

// DescribeCacheSubnetGroups lists the default group and the user groups of the caller's region by name.
func (s *Service) DescribeCacheSubnetGroups(ctx context.Context, in *api.DescribeCacheSubnetGroupsMessage) (*api.CacheSubnetGroupMessage, error) {
	groups, next, err := describeNamed(ctx, s.view, subnetGroups,
		pageRequest{in.MaxRecords, in.Marker}, []*resource.SubnetGroup{s.defaultSubnetGroup(region(ctx))},
		func(g *resource.SubnetGroup) string { return g.Name }, in.CacheSubnetGroupName,
		func(g *resource.SubnetGroup) api.CacheSubnetGroup { return *s.renderSubnetGroup(g) })
	if err != nil {
		return nil, err
	}
	return &api.CacheSubnetGroupMessage{CacheSubnetGroups: groups, Marker: next}, nil
}

// ModifyCacheSubnetGroup changes the description or replaces the subnets of a user group. Clusters keep
// running where they are: ecache's nodes all live on this host, so no subnet is ever in use.
func (s *Service) ModifyCacheSubnetGroup(ctx context.Context, in *api.ModifyCacheSubnetGroupMessage) (*api.ModifyCacheSubnetGroupResult, error) {
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheSubnetGroupName))
	if name == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheSubnetGroupName must be provided.")
	}
	if name == defaultSubnetGroupName {
		return nil, api.InvalidParameterValueException("Cannot modify default cache subnet group")
	}
	if in.CacheSubnetGroupDescription != nil && *in.CacheSubnetGroupDescription == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheSubnetGroupDescription must not be blank.")
	}
	var subnets []string
	if in.SubnetIds != nil {
		var err error
		if subnets, err = validSubnets(in.SubnetIds); err != nil {
			return nil, err
		}
	}
	var g *resource.SubnetGroup
	err := s.store.Update(ctx, func(tx store.Tx) error {
		var rev int64
		var err error
		if g, rev, err = getSubnetGroup(tx, rg, name); err != nil {
			return err
		}
		if in.CacheSubnetGroupDescription != nil {
			g.Description = *in.CacheSubnetGroupDescription
		}
		if subnets != nil {
			g.SubnetIDs = subnets
		}
		_, err = tx.Put(resource.KindSubnetGroup, resource.Key(rg, name), resource.Marshal(g), rev)
		return err
	})
	if err != nil {
		return nil, faultOrInternal("modify cache subnet group", err)
	}
	return &api.ModifyCacheSubnetGroupResult{CacheSubnetGroup: s.renderSubnetGroup(g)}, nil
}

// DeleteCacheSubnetGroup removes a user group that no cluster uses.
func (s *Service) DeleteCacheSubnetGroup(ctx context.Context, in *api.DeleteCacheSubnetGroupMessage) error {
	return s.deleteNamed(ctx, subnetGroups, in.CacheSubnetGroupName, nil)
}

// getSubnetGroup reads a stored user group and its revision.
func getSubnetGroup(tx store.Tx, rg, name string) (*resource.SubnetGroup, int64, error) {
	return getNamed[resource.SubnetGroup](tx.Get, subnetGroups, rg, name)
}

func (s *Service) renderSubnetGroup(g *resource.SubnetGroup) *api.CacheSubnetGroup {
	out := &api.CacheSubnetGroup{
		ARN:                         ptr(s.arn(g.Region, "subnetgroup", g.Name)),
		CacheSubnetGroupDescription: ptr(g.Description),
		CacheSubnetGroupName:        ptr(g.Name),
		VpcId:                       ptr(s.vpcID()),
		SupportedNetworkTypes:       slices.Clone(resource.NetworkTypes),
		Subnets:                     make([]api.Subnet, 0, len(g.SubnetIDs)),
	}
	for _, id := range g.SubnetIDs {
		out.Subnets = append(out.Subnets, api.Subnet{
			SubnetIdentifier:       ptr(id),
			SubnetAvailabilityZone: &api.AvailabilityZone{Name: ptr(subnetAZ(g.Region, id))},
			SupportedNetworkTypes:  slices.Clone(resource.NetworkTypes),
		})
	}
	return out
}

// subnetGroups is the named kind of cache subnet groups.
var subnetGroups = namedKind{
	kind: resource.KindSubnetGroup, noun: "cache subnet group", nameParam: "CacheSubnetGroupName",
	maxLen: maxSubnetGroupNameLen, quota: subnetGroupsPerRegion,
	isDefault:   func(name string) bool { return name == defaultSubnetGroupName },
	existsFault: api.CacheSubnetGroupAlreadyExistsFault, fullFault: api.CacheSubnetGroupQuotaExceededFault,
	notFound: func(name string) error {
		return api.CacheSubnetGroupNotFoundFault("Cache subnet group %s not found.", name)
	},
	undeletable: func(string) error {
		return api.InvalidParameterValueException("Cannot delete default cache subnet group")
	},
	usedBy: func(c *resource.Cluster, name string) bool { return c.SubnetGroup == name },
	inUse: func(name, id string) error {
		return api.CacheSubnetGroupInUse("Cache subnet group %s is in use by cache cluster %s.", name, id)
	},
}
