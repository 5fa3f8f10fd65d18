package resource

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/store"
)

// Ports hands out engine ports from a range.
type Ports struct {
	Low, High int
	// Free reports whether a port can be bound now (nil: every port is free).
	Free func(port int) bool
	// AddressFree reports whether port can be bound now at an own address (nil: always).
	AddressFree func(addr string, port int) bool
}

// Allocate picks n ports of the range that no cluster node, cluster bus or endpoint stored in tx holds
// and that are free on the host; ok is false when the range has fewer left.
func (p Ports) Allocate(tx store.Tx, n int) (ports []int, ok bool, err error) {
	all, err := List[Cluster](tx, KindCluster)
	if err != nil {
		return nil, false, err
	}
	groups, err := List[ReplicationGroup](tx, KindReplicationGroup)
	if err != nil {
		return nil, false, err
	}
	used := map[int]bool{}
	useAddress := func(addr string) {
		if slot, ok := AddressSlot(addr); ok {
			used[slot] = true
		}
	}
	for _, c := range all {
		for _, node := range c.Nodes {
			useAddress(node.Address)
			used[node.Port] = true
			used[node.BusPort] = true
			for _, port := range node.EnginePorts {
				used[port] = true
			}
		}
		used[c.ConfigPort] = true
	}
	for _, g := range groups {
		for _, port := range g.Ports() {
			used[port] = true
		}
		useAddress(g.PrimaryAddress)
	}
	for port := p.Low; port <= p.High && len(ports) < n; port++ {
		if !used[port] && (p.Free == nil || p.Free(port)) {
			ports = append(ports, port)
		}
	}
	return ports, len(ports) == n, nil
}

// BeginScale moves the cluster to want nodes: new nodes (one port each) are added in creating, nodes
// named in remove are marked for removal, and the cluster is modifying until the controller is done.
func (c *Cluster) BeginScale(want int, remove, azs []string, ports []int, at time.Time) {
	current := len(c.Nodes)
	n := int32(want)
	c.Pending.NumNodes = &n
	c.Pending.FromNodes = int32(current)
	c.Pending.NodeIDsToRemove = slices.Clone(remove)
	c.Pending.NewAZs = nil
	c.Status = StatusModifying
	next := 1
	for _, node := range c.Nodes {
		if k, err := strconv.Atoi(node.ID); err == nil {
			next = max(next, k+1)
		}
	}
	for i := range max(want-current, 0) {
		az := c.PreferredAZ
		if az == "Multiple" || c.AZMode == "cross-az" {
			az = fmt.Sprintf("%s%c", c.Region, 'a'+(next+i-1)%3)
			if zones := c.Zones[:min(len(c.Zones), 3)]; len(zones) > 0 {
				az = zones[(next+i-1)%len(zones)]
			}
		}
		if i < len(azs) {
			az = azs[i]
		}
		node := Node{ID: fmt.Sprintf("%04d", next+i), Status: NodeCreating, CreatedAt: at, Port: ports[i], AZ: az}
		node.Place(c.OwnAddresses, c.Port)
		c.Nodes = append(c.Nodes, node)
	}
	for i := range c.Nodes {
		if slices.Contains(remove, c.Nodes[i].ID) {
			c.Nodes[i].Remove = true
			c.Nodes[i].Status = NodeDeleting
		}
	}
}

// ParseWeeklyWindow parses ddd:hh24:mi-ddd:hh24:mi (UTC) into its start in minutes since Sunday 00:00
// and its length in minutes.
func ParseWeeklyWindow(s string) (start, length int, ok bool) {
	from, to, ok := strings.Cut(strings.ToLower(s), "-")
	if !ok {
		return 0, 0, false
	}
	a, okA := weekMinute(from)
	b, okB := weekMinute(to)
	if !okA || !okB {
		return 0, 0, false
	}
	const week = 7 * 24 * 60
	return a, (b - a + week) % week, true
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func weekMinute(s string) (int, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return 0, false
	}
	day := slices.Index(weekdays, parts[0])
	h, err1 := strconv.Atoi(parts[1])
	m, err2 := strconv.Atoi(parts[2])
	if day < 0 || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return day*24*60 + h*60 + m, true
}

// InMaintenanceWindow reports whether t falls inside the cluster's weekly maintenance window.
func (c *Cluster) InMaintenanceWindow(t time.Time) bool {
	return inWeeklyWindow(c.MaintenanceWindow, t)
}

// InMaintenanceWindow reports whether t falls in the group's weekly maintenance window.
func (g *ReplicationGroup) InMaintenanceWindow(t time.Time) bool {
	return inWeeklyWindow(g.MaintenanceWindow, t)
}

// inWeeklyWindow reports whether t falls in window (ddd:hh24:mi-ddd:hh24:mi, UTC).
func inWeeklyWindow(window string, t time.Time) bool {
	start, length, ok := ParseWeeklyWindow(window)
	if !ok {
		return false
	}
	t = t.UTC()
	now := int(t.Weekday())*24*60 + t.Hour()*60 + t.Minute()
	const week = 7 * 24 * 60
	return (now-start+week)%week < length
}
