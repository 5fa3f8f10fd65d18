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
// fake but stable id. Subnets are names the user gives; each lands in one of the region's six Availability
// Zones (a to f), chosen from its id so that it stays the same on every call.

const (
	defaultSubnetGroupName = "default"
	maxSubnetGroupNameLen  = 255
	// subnetGroupsPerRegion and subnetsPerSubnetGroup are AWS's quotas; the default group does not count.
	subnetGroupsPerRegion = 300
	subnetsPerSubnetGroup = 20
	availabilityZones     = 6
	networkTypeIPv4       = "ipv4"
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
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheSubnetGroupName))
	if name == defaultSubnetGroupName {
		return nil, api.CacheSubnetGroupAlreadyExistsFault("Cache subnet group %s already exists.", name)
	}
	if err := validIdentifier("CacheSubnetGroupName", name, maxSubnetGroupNameLen); err != nil {
		return nil, err
	}
	desc := deref(in.CacheSubnetGroupDescription)
	if desc == "" {
		return nil, api.InvalidParameterValueException("The parameter CacheSubnetGroupDescription must be provided and must not be blank.")
	}
	subnets, err := validSubnets(in.SubnetIds)
	if err != nil {
		return nil, err
	}
	tags, err := validTags(in.Tags, s.cfg.Quotas.TagsPerResource)
	if err != nil {
		return nil, err
	}
	g := &resource.SubnetGroup{Region: rg, Name: name, Description: desc, SubnetIDs: subnets, Tags: tags}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return createNamed(tx, resource.KindSubnetGroup, rg, name, g, subnetGroupsPerRegion, nil,
			api.CacheSubnetGroupAlreadyExistsFault("Cache subnet group %s already exists.", name),
			api.CacheSubnetGroupQuotaExceededFault("You have reached the quota of %d cache subnet groups in this region.", subnetGroupsPerRegion))
	})
	if err != nil {
		return nil, faultOrInternal("create cache subnet group", err)
	}
	return &api.CreateCacheSubnetGroupResult{CacheSubnetGroup: s.renderSubnetGroup(g)}, nil
}

// DescribeCacheSubnetGroups lists the default group and the user groups of the caller's region by name.
func (s *Service) DescribeCacheSubnetGroups(ctx context.Context, in *api.DescribeCacheSubnetGroupsMessage) (*api.CacheSubnetGroupMessage, error) {
	rg := region(ctx)
	groups, max, err := regionList[resource.SubnetGroup](ctx, s.store, "describe cache subnet groups", resource.KindSubnetGroup, in.MaxRecords, nil)
	if err != nil {
		return nil, err
	}
	groups = append(groups, s.defaultSubnetGroup(rg))
	if name := strings.ToLower(deref(in.CacheSubnetGroupName)); name != "" {
		groups = slices.DeleteFunc(groups, func(g *resource.SubnetGroup) bool { return g.Name != name })
		if len(groups) == 0 {
			return nil, api.CacheSubnetGroupNotFoundFault("Cache subnet group %s not found.", name)
		}
	}
	slices.SortFunc(groups, func(a, b *resource.SubnetGroup) int { return strings.Compare(a.Name, b.Name) })
	out := &api.CacheSubnetGroupMessage{}
	out.CacheSubnetGroups, out.Marker = renderPage(groups, func(g *resource.SubnetGroup) string { return g.Name }, in.Marker, max,
		func(g *resource.SubnetGroup) api.CacheSubnetGroup { return *s.renderSubnetGroup(g) })
	return out, nil
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
	rg := region(ctx)
	name := strings.ToLower(deref(in.CacheSubnetGroupName))
	if name == "" {
		return api.InvalidParameterValueException("The parameter CacheSubnetGroupName must be provided.")
	}
	if name == defaultSubnetGroupName {
		return api.InvalidParameterValueException("Cannot delete default cache subnet group")
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		_, rev, err := getSubnetGroup(tx, rg, name)
		if err != nil {
			return err
		}
		id, err := clusterUsing(tx, rg, func(c *resource.Cluster) bool { return c.SubnetGroup == name })
		if err != nil {
			return err
		}
		if id != "" {
			return api.CacheSubnetGroupInUse("Cache subnet group %s is in use by cache cluster %s.", name, id)
		}
		return tx.Delete(resource.KindSubnetGroup, resource.Key(rg, name), rev)
	})
	return faultOrInternal("delete cache subnet group", err)
}

// getSubnetGroup reads a stored user group and its revision.
func getSubnetGroup(tx store.Tx, rg, name string) (*resource.SubnetGroup, int64, error) {
	g, obj, err := getRecord[resource.SubnetGroup](tx, resource.KindSubnetGroup, resource.Key(rg, name), func() error {
		return api.CacheSubnetGroupNotFoundFault("Cache subnet group %s not found.", name)
	})
	return g, obj.Revision, err
}

func (s *Service) renderSubnetGroup(g *resource.SubnetGroup) *api.CacheSubnetGroup {
	out := &api.CacheSubnetGroup{
		ARN:                         ptr(s.arn(g.Region, "subnetgroup", g.Name)),
		CacheSubnetGroupDescription: ptr(g.Description),
		CacheSubnetGroupName:        ptr(g.Name),
		VpcId:                       ptr(s.vpcID()),
		SupportedNetworkTypes:       []string{networkTypeIPv4},
		Subnets:                     make([]api.Subnet, 0, len(g.SubnetIDs)),
	}
	for _, id := range g.SubnetIDs {
		out.Subnets = append(out.Subnets, api.Subnet{
			SubnetIdentifier:       ptr(id),
			SubnetAvailabilityZone: &api.AvailabilityZone{Name: ptr(subnetAZ(g.Region, id))},
			SupportedNetworkTypes:  []string{networkTypeIPv4},
		})
	}
	return out
}
