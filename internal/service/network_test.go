package service

import (
	"errors"
	"testing"

	"github.com/ecache/ecache/internal/awsquery"
)

// TestNetworkSettings covers the engine versions IPv6 needs, which this host's binaries cannot all show
// through the API.
func TestNetworkSettings(t *testing.T) {
	for _, tt := range []struct {
		engine, version, nodeType, network, discovery string
		wantNetwork, wantDiscovery, wantCode          string
	}{
		{"redis", "7.1", "cache.t3.micro", "", "", "ipv4", "ipv4", ""},
		{"redis", "6.2", "cache.t3.micro", "ipv6", "", "ipv6", "ipv6", ""},
		{"redis", "6.0", "cache.t3.micro", "ipv6", "", "", "", "InvalidParameterCombination"},
		{"memcached", "1.6.6", "cache.m5.large", "dual_stack", "", "dual_stack", "ipv4", ""},
		{"memcached", "1.5.16", "cache.m5.large", "dual_stack", "", "", "", "InvalidParameterCombination"},
		{"valkey", "7.2", "cache.r7g.large", "dual_stack", "ipv6", "dual_stack", "ipv6", ""},
		{"valkey", "8.0", "cache.t2.micro", "ipv6", "", "", "", "InvalidParameterCombination"},
	} {
		network, discovery, err := networkSettings(tt.engine, tt.version, tt.nodeType, tt.network, tt.discovery)
		var fault *awsquery.Error
		code := ""
		if errors.As(err, &fault) {
			code = fault.Code
		} else if err != nil {
			code = err.Error()
		}
		if code != tt.wantCode || network != tt.wantNetwork || discovery != tt.wantDiscovery {
			t.Errorf("%s %s on %s, %q/%q: %q %q %q, want %q %q %q", tt.engine, tt.version, tt.nodeType, tt.network, tt.discovery,
				network, discovery, code, tt.wantNetwork, tt.wantDiscovery, tt.wantCode)
		}
	}
}
