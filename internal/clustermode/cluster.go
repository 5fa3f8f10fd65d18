package clustermode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// ShardSpec is one shard to form: its primary, its replicas and the slots the primary serves.
type ShardSpec struct {
	Primary  resp.Node
	Replicas []resp.Node
	Slots    []hashslot.Range
}

// ShardState is one shard as the cluster reports it. Slots are sorted and merged; Replicas are addresses,
// sorted.
type ShardState struct {
	PrimaryAddr string
	PrimaryID   string
	Replicas    []string
	Slots       []hashslot.Range
}

// member is one node of a cluster being formed or changed.
type member struct {
	node    resp.Node
	id      string
	primary string // primary id for replicas, "" for primaries
	self    clusterNode
	view    clusterView
}

// identify reads a node's id and own view, failing when the node is not in cluster mode.
func identify(ctx context.Context, p *pool, n resp.Node) (member, error) {
	if n.Addr == "" {
		return member{}, errors.New("node without an address")
	}
	me, v, err := selfOf(ctx, p.get(n))
	if err != nil {
		return member{}, err
	}
	return member{node: n, id: me.ID, self: me, view: v}, nil
}

// NodeID returns the cluster node id of n (CLUSTER MYID).
func NodeID(ctx context.Context, n resp.Node) (string, error) {
	c := dial(n)
	defer c.Close()
	id, err := doString(ctx, c, "CLUSTER", "MYID")
	if err != nil {
		return "", err
	}
	return id, nil
}

// Create forms a cluster from empty cluster-mode nodes: it gives every node a distinct config epoch, assigns
// each primary its slots (CLUSTER ADDSLOTSRANGE), introduces every node to the first primary (CLUSTER MEET),
// attaches the replicas (CLUSTER REPLICATE) and waits until every node reports cluster_state:ok, all nodes see
// the same nodes, roles, primaries, primary config epochs and slots, and every replica's link is up.
//
// Create may be run again on the same nodes after a partial run: slots a primary already holds, nodes already
// met and replicas already attached are left as they are. A node that knows nodes outside shards is an error.
func Create(ctx context.Context, shards []ShardSpec) error {
	if len(shards) == 0 {
		return errors.New("create cluster: no shards")
	}
	var allSlots []hashslot.Range
	seen := map[string]bool{}
	for i, s := range shards {
		for _, r := range s.Slots {
			if !r.Valid() {
				return fmt.Errorf("create cluster: shard %d: invalid slot range %d-%d", i, r.Start, r.End)
			}
		}
		allSlots = append(allSlots, s.Slots...)
		for _, n := range append([]resp.Node{s.Primary}, s.Replicas...) {
			if seen[n.Addr] {
				return fmt.Errorf("create cluster: node %s listed twice", n.Addr)
			}
			seen[n.Addr] = true
		}
	}
	if err := hashslot.CheckOverlap(allSlots); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}

	p := newPool()
	defer p.close()

	// Identify every node; a replica's primary is the primary of its shard.
	var members []member
	primaryID := make([]string, len(shards))
	ids := map[string]bool{}
	for i, s := range shards {
		for j, n := range append([]resp.Node{s.Primary}, s.Replicas...) {
			m, err := identify(ctx, p, n)
			if err != nil {
				return fmt.Errorf("create cluster: %w", err)
			}
			if ids[m.id] {
				return fmt.Errorf("create cluster: node id %s appears twice (%s)", m.id, n.Addr)
			}
			ids[m.id] = true
			if j == 0 {
				primaryID[i] = m.id
			} else {
				m.primary = primaryID[i]
			}
			members = append(members, m)
		}
	}
	for _, m := range members {
		for _, n := range m.view {
			if !ids[n.ID] && !n.Flags["handshake"] {
				return fmt.Errorf("create cluster: node %s already knows node %s (%s), which is not part of this cluster", m.node.Addr, n.ID, n.Addr)
			}
		}
	}

	// Distinct config epochs for the primaries before the nodes meet, so that no epoch collision has to be
	// resolved by gossip. A node that already knows others or has an epoch keeps it (the engine refuses then,
	// which is fine).
	for i, m := range members {
		if len(m.view) == 1 && m.self.Epoch == 0 && m.primary == "" {
			_, err := do(ctx, p.get(m.node), "CLUSTER", "SET-CONFIG-EPOCH", i+1)
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("create cluster: %w", err)
			}
		}
	}

	restore, err := shortenRejoin(ctx, p, members, len(members))
	if err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	defer restore()

	// Slots.
	for i, s := range shards {
		m := members[indexOfID(members, primaryID[i])]
		var add []int
		for _, r := range hashslot.Normalize(s.Slots) {
			for slot := r.Start; slot <= r.End; slot++ {
				switch owner := m.view.owner(slot); owner {
				case m.id:
				case "":
					add = append(add, slot)
				default:
					return fmt.Errorf("create cluster: slot %d of shard %d is already held by node %s", slot, i, owner)
				}
			}
		}
		if len(add) == 0 {
			continue
		}
		args := []any{"CLUSTER", "ADDSLOTSRANGE"}
		for _, r := range hashslot.Ranges(add) {
			args = append(args, r.Start, r.End)
		}
		if _, err := do(ctx, p.get(m.node), args...); err != nil {
			return fmt.Errorf("create cluster: shard %d: %w", i, err)
		}
	}

	if err := meetAll(ctx, p, members); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	nodes := make([]resp.Node, len(members))
	idList := make([]string, len(members))
	for i, m := range members {
		nodes[i], idList[i] = m.node, m.id
	}
	if err := waitFor(ctx, "all nodes to know each other", knowAll(p, nodes, idList)); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}

	// Replicas.
	for _, m := range members {
		if m.primary == "" {
			continue
		}
		if err := replicate(ctx, p.get(m.node), m.primary); err != nil {
			return fmt.Errorf("create cluster: %w", err)
		}
	}

	if err := waitFor(ctx, "the cluster to converge", converged(p, nodes)); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	return nil
}

func indexOfID(ms []member, id string) int {
	for i, m := range ms {
		if m.id == id {
			return i
		}
	}
	return -1
}

// formationNodeTimeout is the cluster-node-timeout a new cluster's primaries run with until it has formed.
const formationNodeTimeout = 500

// shortenRejoin lowers the cluster-node-timeout of the new primaries among members (nodes that know no other)
// to formationNodeTimeout until restore puts the old values back. A primary that knew no primary with slots (a minority: a node on
// its own) does not report cluster_state:ok until its node timeout, at most 5 s, has passed since then (the
// engines' rejoin delay); an engine that started long before, which a warm engine did, would hold the new
// cluster back that long. Waiting 500 ms, the least the engines wait, is enough here: every node is new. But
// a node pings every peer once per half node timeout: in a cluster of more than meshLimit nodes (size) the
// pings of a 500 ms timeout would take the machine, and the node timeouts are left alone.
func shortenRejoin(ctx context.Context, p *pool, members []member, size int) (restore func(), err error) {
	old := map[string]string{}
	var lowered []resp.Node
	restore = func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, n := range lowered {
			_ = p.get(n).ConfigSet(rctx, "cluster-node-timeout", old[n.Addr]).Err()
		}
	}
	if size > meshLimit {
		return restore, nil
	}
	for _, m := range members {
		if len(m.view) != 1 || m.primary != "" {
			continue
		}
		v, err := p.get(m.node).ConfigGet(ctx, "cluster-node-timeout").Result()
		if err != nil {
			restore()
			return nil, fmt.Errorf("%s: CONFIG GET cluster-node-timeout: %w", m.node.Addr, err)
		}
		if t, _ := strconv.Atoi(v["cluster-node-timeout"]); t <= formationNodeTimeout {
			continue
		}
		if err := p.get(m.node).ConfigSet(ctx, "cluster-node-timeout", strconv.Itoa(formationNodeTimeout)).Err(); err != nil {
			restore()
			return nil, fmt.Errorf("%s: CONFIG SET cluster-node-timeout: %w", m.node.Addr, err)
		}
		old[m.node.Addr] = v["cluster-node-timeout"]
		lowered = append(lowered, m.node)
	}
	return restore, nil
}

// meetAll has every member meet every member before it, so that all know each other at once, without waiting
// for gossip (a node pings a random peer once a second); more than meshLimit members meet the first only,
// and gossip does the rest.
func meetAll(ctx context.Context, p *pool, members []member) error {
	for i, m := range members[1:] {
		earlier := members[:i+1]
		if len(members) > meshLimit {
			earlier = members[:1]
		}
		for _, e := range earlier {
			if _, known := m.view.byID(e.id); known {
				continue
			}
			ip, port, err := meetAddr(ctx, p, e.node)
			if err == nil {
				err = meet(ctx, p.get(m.node), ip, port, e.self.BusPort)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// meshLimit is the most nodes a new cluster has for every node to meet every other one.
const meshLimit = 32

// meetAddr is the IP and port to give CLUSTER MEET for n: the address its cluster bus announces
// (cluster-announce-ip) when it has one apart from n's, else n's.
func meetAddr(ctx context.Context, p *pool, n resp.Node) (string, int, error) {
	ip, port, err := resolveAddr(ctx, n.Addr)
	if err != nil {
		return "", 0, err
	}
	v, err := p.get(n).ConfigGet(ctx, "cluster-announce-ip").Result()
	if err != nil {
		return "", 0, fmt.Errorf("%s: CONFIG GET cluster-announce-ip: %w", n.Addr, err)
	}
	if bus := v["cluster-announce-ip"]; bus != "" {
		ip = bus
	}
	return ip, port, nil
}

// meet sends CLUSTER MEET ip port busport.
func meet(ctx context.Context, c *redis.Client, ip string, port, bus int) error {
	args := []any{"CLUSTER", "MEET", ip, port}
	if bus > 0 {
		args = append(args, bus)
	}
	_, err := do(ctx, c, args...)
	return err
}

// replicate makes the node a replica of primaryID unless it already is one.
func replicate(ctx context.Context, c *redis.Client, primaryID string) error {
	me, _, err := selfOf(ctx, c)
	if err != nil {
		return err
	}
	if me.replica() && me.MasterID == primaryID {
		return nil
	}
	_, err = do(ctx, c, "CLUSTER", "REPLICATE", primaryID)
	return err
}

// knowAll checks that every node in nodes knows every id in ids as a full member (no handshake).
func knowAll(p *pool, nodes []resp.Node, ids []string) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		for _, n := range nodes {
			v, err := nodesOf(ctx, p.get(n))
			if err != nil {
				return false, err.Error(), nil
			}
			for _, id := range ids {
				k, ok := v.byID(id)
				if !ok || k.Flags["handshake"] {
					return false, fmt.Sprintf("%s does not know node %s yet", n.Addr, id), nil
				}
			}
		}
		return true, "", nil
	}
}

// Converged reports, once, whether nodes form one settled cluster (see converged); when not, why says what
// is not settled yet.
func Converged(ctx context.Context, nodes []resp.Node) (ok bool, why string, err error) {
	p := newPool()
	defer p.close()
	return converged(p, nodes)(ctx)
}

// converged checks that every node answers with cluster_state:ok, that all of them describe the same cluster
// (node ids, roles, primaries, primary config epochs and slot ownership) and that every replica's link to its
// primary is up.
func converged(p *pool, nodes []resp.Node) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		var want string
		for i, n := range nodes {
			c := p.get(n)
			info, err := clusterInfo(ctx, c)
			if err != nil {
				return false, err.Error(), nil
			}
			if st := info["cluster_state"]; st != "ok" {
				return false, fmt.Sprintf("%s: cluster_state:%s", n.Addr, st), nil
			}
			v, err := nodesOf(ctx, c)
			if err != nil {
				return false, err.Error(), nil
			}
			sig := signature(v)
			if i == 0 {
				want = sig
			} else if sig != want {
				return false, fmt.Sprintf("%s and %s disagree: %s", nodes[0].Addr, n.Addr, firstDifference(want, sig)), nil
			}
			if me, _ := v.self(); me.replica() {
				text, err := doString(ctx, c, "INFO", "replication")
				if err != nil {
					return false, err.Error(), nil
				}
				if st := infoFields(text)["master_link_status"]; st != "up" {
					return false, fmt.Sprintf("%s: master_link_status:%s", n.Addr, st), nil
				}
			}
		}
		return true, "", nil
	}
}

// signature renders what all nodes must agree on.
func signature(v clusterView) string {
	lines := make([]string, 0, len(v))
	for _, n := range v {
		// A node without an address is the old identity of a node met again under a new one (a node that
		// started afresh at the same address): the nodes that knew it keep it until it is forgotten, the
		// others never learn it, and it has no say in whether the cluster agrees.
		if n.Flags["handshake"] || n.Flags["noaddr"] {
			continue
		}
		// The address is the one clients are told, which a node announces in its own pings only (a node
		// learnt from gossip shows its cluster bus address until it pings).
		if n.master() {
			lines = append(lines, fmt.Sprintf("%s %s master epoch=%d slots=%s", n.ID, n.Addr, n.Epoch, hashslot.Format(n.Slots)))
		} else {
			lines = append(lines, fmt.Sprintf("%s %s replica-of=%s", n.ID, n.Addr, n.MasterID))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// firstDifference names the first line of signature a missing from b, or else of b missing from a.
func firstDifference(a, b string) string {
	in := func(lines []string, l string) bool { return slices.Contains(lines, l) }
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for _, l := range la {
		if !in(lb, l) {
			return fmt.Sprintf("%q only in the first", l)
		}
	}
	for _, l := range lb {
		if !in(la, l) {
			return fmt.Sprintf("%q only in the second", l)
		}
	}
	return "order"
}

// clusterMembers lists the reachable-looking nodes of seed's cluster (those not flagged failed), with seed's
// credentials; seed itself comes first under its own address.
func clusterMembers(ctx context.Context, p *pool, seed resp.Node) ([]resp.Node, clusterView, error) {
	me, v, err := selfOf(ctx, p.get(seed))
	if err != nil {
		return nil, nil, err
	}
	out := []resp.Node{seed}
	for _, n := range v {
		if n.ID == me.ID || n.failed() {
			continue
		}
		out = append(out, peer(seed, n.Addr))
	}
	return out, v, nil
}

// Inspect describes the cluster that node any belongs to, one entry per primary, ordered by first slot (shards
// without slots last, by address). It reads CLUSTER SHARDS and falls back to CLUSTER NODES on engines without
// it. A dead primary whose replica took over is not listed (Redis shows it as a shard without slots, Valkey
// beside the new primary in the same shard).
func Inspect(ctx context.Context, any resp.Node) ([]ShardState, error) {
	c := dial(any)
	defer c.Close()
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil {
		if ctx.Err() != nil || !errorHas(err, "unknown") {
			return nil, fmt.Errorf("%s: cluster shards: %w", any.Addr, err)
		}
		v, err := nodesOf(ctx, c)
		if err != nil {
			return nil, err
		}
		return statesFromNodes(v, any), nil
	}
	var out []ShardState
	for _, sh := range shards {
		if !hasPrimary(sh) {
			// A replica whose shard id has not reached this node yet: CLUSTER NODES knows better.
			v, err := nodesOf(ctx, c)
			if err != nil {
				return nil, err
			}
			return statesFromNodes(v, any), nil
		}
		var st ShardState
		primaryFailed := false
		for _, n := range sh.Nodes {
			addr := shardNodeAddr(n, any)
			failed := n.Health == "fail" || n.Health == "failed"
			switch {
			case n.Role != "master":
				st.Replicas = append(st.Replicas, addr)
			case st.PrimaryID == "" || (primaryFailed && !failed):
				// Valkey keeps a dead primary in its shard, beside the replica that took over: the live one
				// is the primary.
				st.PrimaryAddr, st.PrimaryID, primaryFailed = addr, n.ID, failed
			}
		}
		for _, r := range sh.Slots {
			st.Slots = append(st.Slots, hashslot.Range{Start: int(r.Start), End: int(r.End)})
		}
		st.Slots = hashslot.Normalize(st.Slots)
		if st.PrimaryID == "" || (primaryFailed && len(st.Slots) == 0) {
			continue
		}
		sort.Strings(st.Replicas)
		out = append(out, st)
	}
	sortShards(out)
	return out, nil
}

func hasPrimary(sh redis.ClusterShard) bool {
	for _, n := range sh.Nodes {
		if n.Role == "master" {
			return true
		}
	}
	return false
}

func shardNodeAddr(n redis.Node, like resp.Node) string {
	host := n.IP
	if host == "" {
		host = n.Endpoint
	}
	port := n.Port
	if (like.TLS != nil && n.TLSPort != 0) || port == 0 {
		port = n.TLSPort
	}
	return net.JoinHostPort(host, strconv.FormatInt(port, 10))
}

func statesFromNodes(v clusterView, any resp.Node) []ShardState {
	var out []ShardState
	for _, n := range v {
		if !n.master() || n.Flags["handshake"] || (n.Flags["fail"] && len(n.Slots) == 0) {
			continue
		}
		addr := n.Addr
		if n.myself() && addr == "" {
			addr = any.Addr
		}
		st := ShardState{PrimaryAddr: addr, PrimaryID: n.ID, Slots: n.Slots}
		for _, r := range v {
			if r.replica() && r.MasterID == n.ID {
				st.Replicas = append(st.Replicas, r.Addr)
			}
		}
		sort.Strings(st.Replicas)
		out = append(out, st)
	}
	sortShards(out)
	return out
}

func sortShards(s []ShardState) {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if (len(a.Slots) == 0) != (len(b.Slots) == 0) {
			return len(a.Slots) > 0
		}
		if len(a.Slots) > 0 && a.Slots[0].Start != b.Slots[0].Start {
			return a.Slots[0].Start < b.Slots[0].Start
		}
		return a.PrimaryAddr < b.PrimaryAddr
	})
}

// AddShard adds an empty shard to seed's cluster: the new primary and its replicas meet the cluster, the
// replicas attach to the primary, and AddShard waits until every node knows the new ones and the cluster has
// converged. The shard gets no slots (shard.Slots must be empty); move slots to it with MoveSlots. Nodes
// already in the cluster are left as they are, so AddShard may be run again after a partial run.
func AddShard(ctx context.Context, seed resp.Node, shard ShardSpec) error {
	if len(shard.Slots) > 0 {
		return errors.New("add shard: a new shard starts without slots; move slots to it with MoveSlots")
	}
	p := newPool()
	defer p.close()
	members, view, err := clusterMembers(ctx, p, seed)
	if err != nil {
		return fmt.Errorf("add shard: %w", err)
	}
	seedSelf, _ := view.self()
	seedIP, seedPort, err := meetAddr(ctx, p, seed)
	if err != nil {
		return fmt.Errorf("add shard: %w", err)
	}
	known := map[string]bool{}
	for _, n := range view {
		known[n.ID] = true
	}

	var added []member
	addedIDs := map[string]bool{}
	for i, n := range append([]resp.Node{shard.Primary}, shard.Replicas...) {
		m, err := identify(ctx, p, n)
		if err != nil {
			return fmt.Errorf("add shard: %w", err)
		}
		if i == 0 {
			if !m.self.master() || len(m.self.Slots) > 0 {
				return fmt.Errorf("add shard: new primary %s must be a primary without slots", n.Addr)
			}
		} else {
			m.primary = added[0].id
		}
		if m.id == seedSelf.ID {
			return fmt.Errorf("add shard: node %s is the seed", n.Addr)
		}
		added = append(added, m)
		addedIDs[m.id] = true
	}
	for _, m := range added {
		for _, k := range m.view {
			if !known[k.ID] && !addedIDs[k.ID] && !k.Flags["handshake"] {
				return fmt.Errorf("add shard: node %s already knows node %s (%s), which is not part of this cluster", m.node.Addr, k.ID, k.Addr)
			}
		}
	}
	restore, err := shortenRejoin(ctx, p, added, len(view)+len(added))
	if err != nil {
		return fmt.Errorf("add shard: %w", err)
	}
	defer restore()
	for _, m := range added {
		if known[m.id] {
			continue
		}
		if err := meet(ctx, p.get(m.node), seedIP, seedPort, seedSelf.BusPort); err != nil {
			return fmt.Errorf("add shard: %w", err)
		}
	}
	all := append([]resp.Node(nil), members...)
	var ids []string
	for _, n := range view {
		if !n.failed() || n.myself() {
			ids = append(ids, n.ID)
		}
	}
	for _, m := range added {
		all = append(all, m.node)
		ids = append(ids, m.id)
	}
	if err := waitFor(ctx, "all nodes to know the new shard", knowAll(p, all, ids)); err != nil {
		return fmt.Errorf("add shard: %w", err)
	}
	for _, m := range added[1:] {
		if err := replicate(ctx, p.get(m.node), m.primary); err != nil {
			return fmt.Errorf("add shard: %w", err)
		}
	}
	if err := waitFor(ctx, "the cluster to converge", converged(p, all)); err != nil {
		return fmt.Errorf("add shard: %w", err)
	}
	return nil
}

// AddReplica makes replica a replica of primary in seed's cluster: a node that is not part of the cluster
// yet (new, or restarted without its cluster state) meets the cluster first; a member following another
// primary is re-pointed. AddReplica waits until the cluster has converged with the replica's link up, and
// may be run again after a partial run. The replica must hold no slots.
func AddReplica(ctx context.Context, seed, primary, replica resp.Node) error {
	p := newPool()
	defer p.close()
	members, view, err := clusterMembers(ctx, p, seed)
	if err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	prim, err := identify(ctx, p, primary)
	if err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	if _, ok := view.byID(prim.id); !ok {
		return fmt.Errorf("add replica: %s is not part of the cluster of %s", primary.Addr, seed.Addr)
	}
	rep, err := identify(ctx, p, replica)
	if err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	if n := hashslot.Count(rep.self.Slots); n > 0 {
		return fmt.Errorf("add replica: %s holds %d slots", replica.Addr, n)
	}
	if _, known := view.byID(rep.id); !known {
		for _, k := range rep.view {
			if _, ok := view.byID(k.ID); !ok && k.ID != rep.id && !k.Flags["handshake"] {
				return fmt.Errorf("add replica: node %s already knows node %s (%s), which is not part of this cluster", replica.Addr, k.ID, k.Addr)
			}
		}
		seedSelf, _ := view.self()
		seedIP, seedPort, err := meetAddr(ctx, p, seed)
		if err != nil {
			return fmt.Errorf("add replica: %w", err)
		}
		if err := meet(ctx, p.get(replica), seedIP, seedPort, seedSelf.BusPort); err != nil {
			return fmt.Errorf("add replica: %w", err)
		}
	}
	all := append([]resp.Node(nil), members...)
	if !slices.ContainsFunc(all, func(n resp.Node) bool { return n.Addr == replica.Addr }) {
		all = append(all, replica)
	}
	var ids []string
	for _, n := range view {
		if !n.failed() || n.myself() {
			ids = append(ids, n.ID)
		}
	}
	if !slices.Contains(ids, rep.id) {
		ids = append(ids, rep.id)
	}
	if err := waitFor(ctx, "all nodes to know the replica", knowAll(p, all, ids)); err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	if err := replicate(ctx, p.get(replica), prim.id); err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	if err := waitFor(ctx, "the cluster to converge", converged(p, all)); err != nil {
		return fmt.Errorf("add replica: %w", err)
	}
	return nil
}

// RemoveShard removes an empty shard (a primary without slots, and its replicas) from seed's cluster: every
// other node forgets the shard's nodes (CLUSTER FORGET, which also keeps them from being re-learned through
// gossip for a minute), then the removed nodes are reset (CLUSTER RESET HARD: they forget the cluster, drop
// their data and take new ids), and RemoveShard waits until the remaining cluster has converged. replicas must
// list every replica of the shard. Move the shard's slots away first with MoveSlots. shard is the shard's
// primary; seed is any node of another shard.
//
// A primary that gave away its last slot may already have turned into a replica of the node that took it,
// its replicas following (engines with cluster-allow-replica-migration yes, the default, do that); such a
// shard is removed all the same, as long as none of its nodes holds slots.
func RemoveShard(ctx context.Context, seed resp.Node, shard resp.Node, replicas []resp.Node) error {
	p := newPool()
	defer p.close()
	members, view, err := clusterMembers(ctx, p, seed)
	if err != nil {
		return fmt.Errorf("remove shard: %w", err)
	}
	seedSelf, _ := view.self()
	prim, err := identify(ctx, p, shard)
	if err != nil {
		return fmt.Errorf("remove shard: %w", err)
	}
	removed := map[string]bool{prim.id: true}
	var reps []member
	for _, r := range replicas {
		m, err := identify(ctx, p, r)
		if err != nil {
			return fmt.Errorf("remove shard: %w", err)
		}
		removed[m.id] = true
		reps = append(reps, m)
	}
	if removed[seedSelf.ID] {
		return fmt.Errorf("remove shard: the seed %s is one of the removed nodes; pick a seed in another shard", seed.Addr)
	}
	for _, m := range append([]member{prim}, reps...) {
		if n := hashslot.Count(m.self.Slots); n > 0 {
			return fmt.Errorf("remove shard: %s still holds %d slots (%s)", m.node.Addr, n, hashslot.Format(m.self.Slots))
		}
		if n, ok := view.byID(m.id); ok && len(n.Slots) > 0 {
			return fmt.Errorf("remove shard: the cluster still sees %s holding slots %s", m.node.Addr, hashslot.Format(n.Slots))
		}
	}
	for _, r := range reps {
		if r.self.replica() && !removed[r.self.MasterID] && r.self.MasterID != prim.self.MasterID {
			return fmt.Errorf("remove shard: %s is a replica of %s, not of %s", r.node.Addr, r.self.MasterID, shard.Addr)
		}
	}
	for _, n := range view {
		if n.replica() && removed[n.MasterID] && !removed[n.ID] {
			return fmt.Errorf("remove shard: %s (%s) replicates a removed node but is not listed for removal", n.Addr, n.ID)
		}
	}

	// Forget on every remaining node.
	var remaining []resp.Node
	for _, m := range members {
		id := seedSelf.ID
		if m.Addr != seed.Addr {
			id = idAt(view, m.Addr)
		}
		if removed[id] {
			continue
		}
		remaining = append(remaining, m)
		for rid := range removed {
			if _, err := do(ctx, p.get(m), "CLUSTER", "FORGET", rid); err != nil && !errorHas(err, "Unknown node") {
				return fmt.Errorf("remove shard: %w", err)
			}
		}
	}
	// Reset the removed nodes, replicas first.
	for _, m := range append(reps, prim) {
		if _, err := do(ctx, p.get(m.node), "CLUSTER", "RESET", "HARD"); err != nil {
			return fmt.Errorf("remove shard: %w", err)
		}
	}
	forgotten := func(ctx context.Context) (bool, string, error) {
		for _, n := range remaining {
			v, err := nodesOf(ctx, p.get(n))
			if err != nil {
				return false, err.Error(), nil
			}
			for rid := range removed {
				if _, ok := v.byID(rid); ok {
					return false, fmt.Sprintf("%s still knows %s", n.Addr, rid), nil
				}
			}
		}
		return converged(p, remaining)(ctx)
	}
	if err := waitFor(ctx, "the remaining cluster to converge", forgotten); err != nil {
		return fmt.Errorf("remove shard: %w", err)
	}
	return nil
}

func idAt(v clusterView, addr string) string {
	for _, n := range v {
		if n.Addr == addr {
			return n.ID
		}
	}
	return ""
}

// FailoverMode chooses how Failover promotes a replica.
type FailoverMode int

const (
	// Coordinated is CLUSTER FAILOVER: the primary stops writes, the replica catches up, then takes over, so
	// no acknowledged write is lost. The primary must be reachable.
	Coordinated FailoverMode = iota
	// Forced is CLUSTER FAILOVER FORCE, for a dead primary: no handshake with it, but the other primaries
	// still elect the replica. It escalates to TAKEOVER when the replica has not taken over after
	// forceEscalateAfter, e.g. because most primaries are down.
	Forced
	// Takeover is CLUSTER FAILOVER TAKEOVER at once: no election, for a dead primary in a cluster where no
	// majority of primaries is left to vote (a single shard, or half of the shards down).
	Takeover
)

// Failover promotes replica to primary of its shard and waits until the replica reports itself primary. A
// replica that is already a primary is left alone.
func Failover(ctx context.Context, replica resp.Node, mode FailoverMode) error {
	c := dial(replica)
	defer c.Close()
	me, _, err := selfOf(ctx, c)
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	if me.master() {
		return nil
	}
	if !me.replica() {
		return fmt.Errorf("failover: %s is neither primary nor replica", replica.Addr)
	}
	option := map[FailoverMode]string{Coordinated: "", Forced: "FORCE", Takeover: "TAKEOVER"}[mode]
	issue := func(option string) error {
		args := []any{"CLUSTER", "FAILOVER"}
		if option != "" {
			args = append(args, option)
		}
		_, err := do(ctx, c, args...)
		return err
	}
	if err := issue(option); err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	issued := time.Now()
	check := func(ctx context.Context) (bool, string, error) {
		me, _, err := selfOf(ctx, c)
		if err != nil {
			return false, err.Error(), nil
		}
		if me.master() {
			return true, "", nil
		}
		if time.Since(issued) >= forceEscalateAfter {
			if mode != Coordinated {
				option = "TAKEOVER"
			}
			if err := issue(option); err != nil {
				return false, "", fmt.Errorf("failover: %w", err)
			}
			issued = time.Now()
		}
		return false, fmt.Sprintf("%s is still a replica of %s", replica.Addr, me.MasterID), nil
	}
	if err := waitFor(ctx, "the replica to become primary", check); err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	return nil
}

// forceEscalateAfter is how long a FAILOVER or FAILOVER FORCE may take before it is issued again (plain) or
// escalated to TAKEOVER (forced); the engines give up a manual failover after 5 s.
const forceEscalateAfter = 6 * time.Second

// Forget takes out of the cluster every node that the kept nodes know but that is at none of their
// addresses: a replica removed from its shard, or one left behind by an interrupted removal. A stranger that
// still answers with its own node id is reset first, so that it stops gossiping; then every reachable kept
// node forgets it. Nodes that hold slots, are still handshaking, or have a kept node replicating them are left
// alone. Kept nodes that do not answer are skipped: a later call forgets the strangers they still know.
// Forget returns the ids it forgot.
func Forget(ctx context.Context, keep []resp.Node) ([]string, error) {
	p := newPool()
	defer p.close()
	kept := map[string]bool{}
	for _, n := range keep {
		ip, port, err := resolveAddr(ctx, n.Addr)
		if err != nil {
			return nil, fmt.Errorf("forget: %w", err)
		}
		kept[net.JoinHostPort(ip, strconv.Itoa(port))] = true
	}
	views := map[string]clusterView{}
	strangers := map[string]clusterNode{}
	for _, n := range keep {
		v, err := nodesOf(ctx, p.get(n))
		if err != nil {
			continue // down or restarting
		}
		views[n.Addr] = v
		for _, sn := range v {
			replicated := slices.ContainsFunc(v, func(o clusterNode) bool { return o.MasterID == sn.ID && kept[o.Addr] })
			// A failed entry whose address another, live node now has is a node that started afresh.
			superseded := sn.failed() && slices.ContainsFunc(v, func(o clusterNode) bool { return o.ID != sn.ID && o.Addr == sn.Addr && !o.failed() })
			if sn.myself() || (kept[sn.Addr] && !superseded) || sn.Flags["handshake"] || len(sn.Slots) > 0 || replicated {
				continue
			}
			strangers[sn.ID] = sn
		}
	}
	if len(strangers) == 0 {
		return nil, nil
	}
	for id, sn := range strangers {
		if sn.Addr == "" {
			continue
		}
		// Only the node itself is reset: another engine may have taken the address since.
		like := keep[0]
		c := p.get(peer(like, sn.Addr))
		if got, err := doString(ctx, c, "CLUSTER", "MYID"); err == nil && got == id {
			if _, err := do(ctx, c, "CLUSTER", "RESET", "HARD"); err != nil {
				return nil, fmt.Errorf("forget: %w", err)
			}
		}
	}
	var forgotten []string
	for id := range strangers {
		forgotten = append(forgotten, id)
		for _, n := range keep {
			v, ok := views[n.Addr]
			if !ok {
				continue
			}
			if _, known := v.byID(id); !known {
				continue
			}
			if _, err := do(ctx, p.get(n), "CLUSTER", "FORGET", id); err != nil && !errorHas(err, "Unknown node") {
				return forgotten, fmt.Errorf("forget: %w", err)
			}
		}
	}
	slices.Sort(forgotten)
	return forgotten, nil
}
