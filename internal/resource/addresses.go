package resource

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/ecache/ecache/internal/store"
)

// Own addresses. While the node host is an IPv4 loopback address, the nodes of an IPv4 cluster created without
// in-transit encryption each get an address of their own from 127.0.0.0/8, which the whole block reaches on
// this host, and listen there on the port the caller asked for (6379 or 11211 by default), as ElastiCache
// nodes do on their own hosts. A replication group's PrimaryEndpoint gets one too, which the primary's engine
// listens on besides its own and which moves with the primary role: clients reach the primary with no hop.
//
// Each address stands for a port of the node range (its slot), 127.1.<high byte>.<low byte>, so that two
// ecache servers with disjoint node ranges never hand out the same address, and an address is allocated,
// and kept from others, like a port.

// SlotAddress is the own address that node-range port slot stands for.
func SlotAddress(slot int) string {
	return fmt.Sprintf("127.1.%d.%d", slot>>8&0xff, slot&0xff)
}

// AddressSlot is the node-range port an own address stands for; ok is false for any other address.
func AddressSlot(addr string) (slot int, ok bool) {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is4() {
		return 0, false
	}
	b := ip.As4()
	if b[0] != 127 || b[1] != 1 {
		return 0, false
	}
	return int(b[2])<<8 | int(b[3]), true
}

// AllocateAddresses picks n own addresses whose slots no record in tx holds and where port can be listened
// on now (AddressFree); ok is false when the range has fewer left.
func (p Ports) AllocateAddresses(tx store.Tx, n, port int) (addrs []string, ok bool, err error) {
	q := p
	q.Free = func(slot int) bool { return p.AddressFree == nil || p.AddressFree(SlotAddress(slot), port) }
	slots, ok, err := q.Allocate(tx, n)
	for _, s := range slots {
		addrs = append(addrs, SlotAddress(s))
	}
	return addrs, ok, err
}

// Host is the address clients reach node n at: its own, or host (the node host of the cluster's IP
// discovery).
func (n Node) Host(host string) string { return cmp.Or(n.Address, host) }

// Addr is Host with n's port.
func (n Node) Addr(host string) string { return net.JoinHostPort(n.Host(host), strconv.Itoa(n.Port)) }

// Place puts a node given node-range port slot (its Port) where its cluster's nodes go: with own
// addresses, at the slot's address on port.
func (n *Node) Place(own bool, port int) {
	if own {
		n.Address, n.Port = SlotAddress(n.Port), port
	}
}
