package service

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/store"
)

// placement is where the nodes of a cluster or group may go, as in a VPC: the Availability Zones of its
// subnet group's subnets.
type placement struct {
	rg, group string
	zones     []string // sorted
}

// placement reads the zones of subnet group group of region rg ("" or "default": one subnet in each zone).
func (s *Service) placement(tx store.Tx, rg, group string) (placement, error) {
	subnets := s.defaultSubnets(rg)
	if group != "" && group != defaultSubnetGroupName {
		g, _, err := getSubnetGroup(tx, rg, group)
		if err != nil {
			return placement{}, err
		}
		subnets = g.SubnetIDs
	}
	p := placement{rg: rg, group: cmp.Or(group, defaultSubnetGroupName)}
	for _, id := range subnets {
		p.zones = append(p.zones, subnetAZ(rg, id))
	}
	slices.Sort(p.zones)
	p.zones = slices.Compact(p.zones)
	return p, nil
}

// check refuses a zone the caller named that is not the region's or has no subnet in the group.
func (p placement) check(az string) error {
	if !validAZ(p.rg, az) {
		return api.InvalidParameterValueException("Invalid Availability Zone %q for region %s.", az, p.rg)
	}
	if !slices.Contains(p.zones, az) {
		return api.InvalidParameterValueException("Availability Zone %s has no subnet in cache subnet group %s; its subnets are in %s.",
			az, p.group, strings.Join(p.zones, ", "))
	}
	return nil
}

// memberAZ is the zone of the i-th member of a node group: the one given for it, else one of the first
// three zones in turn with Multi-AZ, else the first zone.
func (p placement) memberAZ(given []string, i int, multiAZ bool) (string, error) {
	switch {
	case given != nil:
		return given[i], p.check(given[i])
	case multiAZ:
		return p.zones[i%min(len(p.zones), 3)], nil
	default:
		return p.zones[0], nil
	}
}

// fit keeps a cache cluster's nodes in the group's zones: zones the caller named must be among them, and
// zones ecache picked are picked again from them, in turn.
func (p placement) fit(azs []string, given bool) ([]string, error) {
	out := slices.Clone(azs)
	picked := map[string]string{} // a zone ecache picked -> the subnet zone it becomes
	for i, az := range azs {
		switch {
		case given:
			if err := p.check(az); err != nil {
				return nil, err
			}
		case !slices.Contains(p.zones, az):
			if _, ok := picked[az]; !ok {
				picked[az] = p.zones[len(picked)%len(p.zones)]
			}
			out[i] = picked[az]
		}
	}
	return out, nil
}
