package resource

// Network types (NetworkType) and IP discovery values (IpDiscovery).
const (
	NetworkIPv4      = "ipv4"
	NetworkIPv6      = "ipv6"
	NetworkDualStack = "dual_stack"
)

// NetworkTypes are the network types every subnet of ecache's one local network supports: the host has
// both loopbacks.
var NetworkTypes = []string{NetworkIPv4, NetworkIPv6, NetworkDualStack}

// Hosts are the addresses clients reach nodes and endpoints at: IPv4 for clusters that discover their
// nodes by IPv4, IPv6 for the others.
type Hosts struct {
	IPv4, IPv6 string
}

// For is the address of a cluster or group with the given IpDiscovery.
func (h Hosts) For(ipDiscovery string) string {
	if ipDiscovery == NetworkIPv6 {
		return h.IPv6
	}
	return h.IPv4
}

// LoopbackBind are the loopback addresses the engines of a network type listen on: nil for IPv4 alone
// (the driver's default, 127.0.0.1).
func LoopbackBind(networkType string) []string {
	switch networkType {
	case NetworkIPv6:
		return []string{"::1"}
	case NetworkDualStack:
		return []string{"127.0.0.1", "::1"}
	}
	return nil
}

// LoopbackFor is the loopback address of the family clients discover nodes by.
func LoopbackFor(ipDiscovery string) string {
	return Hosts{IPv4: "127.0.0.1", IPv6: "::1"}.For(ipDiscovery)
}
