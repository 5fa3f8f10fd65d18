package service

import (
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
)

// networkSettings checks a cluster's NetworkType and IpDiscovery and fills in their defaults (ipv4; ipv6
// discovery for an ipv6 network). IPv6 and dual stack need Valkey, Redis OSS 6.2 or later, or Memcached
// 1.6.6 or later, on a node type built on the Nitro system, as on ElastiCache.
func networkSettings(eng, version, nodeType, networkType, ipDiscovery string) (string, string, error) {
	switch networkType {
	case "":
		networkType = resource.NetworkIPv4
	case resource.NetworkIPv4, resource.NetworkIPv6, resource.NetworkDualStack:
	default:
		return "", "", api.InvalidParameterValueException("Invalid value %q for NetworkType. Valid values: ipv4, ipv6, dual_stack.", networkType)
	}
	switch ipDiscovery {
	case "":
		ipDiscovery = resource.NetworkIPv4
		if networkType == resource.NetworkIPv6 {
			ipDiscovery = resource.NetworkIPv6
		}
	case resource.NetworkIPv4, resource.NetworkIPv6:
	default:
		return "", "", api.InvalidParameterValueException("Invalid value %q for IpDiscovery. Valid values: ipv4, ipv6.", ipDiscovery)
	}
	if err := checkDiscovery(networkType, ipDiscovery); err != nil {
		return "", "", err
	}
	if networkType == resource.NetworkIPv4 {
		return networkType, ipDiscovery, nil
	}
	min := map[string]string{engine.EngineRedis: "6.2", engine.EngineMemcached: "1.6.6"}[eng]
	if min != "" && engine.CompareVersions(version, min) < 0 {
		return "", "", api.InvalidParameterCombinationException("NetworkType %s requires %s %s or later; the cluster runs %s.", networkType, eng, min, version)
	}
	if !nitro(nodeType) {
		return "", "", api.InvalidParameterCombinationException("NetworkType %s requires a node type built on the Nitro system; %s is not one.", networkType, nodeType)
	}
	return networkType, ipDiscovery, nil
}

// checkDiscovery: an ipv4 network is discovered by IPv4, an ipv6 one by IPv6; dual stack takes either.
func checkDiscovery(networkType, ipDiscovery string) error {
	if networkType != resource.NetworkDualStack && ipDiscovery != networkType {
		return api.InvalidParameterCombinationException("IpDiscovery %s is not available with NetworkType %s; only dual_stack takes either.", ipDiscovery, networkType)
	}
	return nil
}

// nitro reports whether a node type is built on the Nitro system: every current generation type is; the
// Xen based t1, t2, m1–m4, c1, r3 and r4 types are not.
func nitro(nodeType string) bool {
	for _, xen := range []string{"cache.t1.", "cache.t2.", "cache.m1.", "cache.m2.", "cache.m3.", "cache.m4.", "cache.c1.", "cache.r3.", "cache.r4."} {
		if strings.HasPrefix(nodeType, xen) {
			return false
		}
	}
	return true
}

// modifyIPDiscovery changes how clients discover a dual stack cluster's (or group's) nodes; the engines
// already listen on both families, so the change is applied at once.
func modifyIPDiscovery(networkType string, current *string, requested *string) error {
	if requested == nil || *requested == *current {
		return nil
	}
	if *requested != resource.NetworkIPv4 && *requested != resource.NetworkIPv6 {
		return api.InvalidParameterValueException("Invalid value %q for IpDiscovery. Valid values: ipv4, ipv6.", *requested)
	}
	if err := checkDiscovery(networkType, *requested); err != nil {
		return err
	}
	*current = *requested
	return nil
}
