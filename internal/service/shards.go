package service

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

const (
	// maxNodeGroups is how many shards a cluster mode enabled group may have (Valkey 7.2+, Redis OSS 5.0.6+).
	maxNodeGroups = 500
)

// nodeGroupIDPattern is what a user-supplied NodeGroupId may look like: ElastiCache's own ids are 0001...
var nodeGroupIDPattern = regexp.MustCompile(`^[0-9a-zA-Z]{1,4}$`)

// planClusterShards lays out the node groups of a cluster mode enabled group: NumNodeGroups shards of
// ReplicasPerNodeGroup replicas with the slots split evenly, or one shard per NodeGroupConfiguration entry
// with its own slots, replica count and Availability Zones.
func planClusterShards(at placement, in *api.CreateReplicationGroupMessage, g *resource.ReplicationGroup, maxNodes int) ([]plannedShard, error) {
	switch {
	case in.PrimaryClusterId != nil:
		return nil, api.InvalidParameterCombinationException("PrimaryClusterId cannot seed a cluster mode enabled replication group.")
	case in.NumCacheClusters != nil || len(in.PreferredCacheClusterAZs) > 0:
		return nil, api.InvalidParameterCombinationException("NumCacheClusters and PreferredCacheClusterAZs are not used with cluster mode enabled; use NumNodeGroups, ReplicasPerNodeGroup or NodeGroupConfiguration.")
	case in.AutomaticFailoverEnabled != nil && !*in.AutomaticFailoverEnabled:
		return nil, api.InvalidParameterCombinationException("AutomaticFailoverEnabled must be enabled for Valkey or Redis OSS (cluster mode enabled) replication groups.")
	}
	g.AutomaticFailover = true
	configs := in.NodeGroupConfiguration
	count := len(configs)
	if in.NumNodeGroups != nil {
		n := int(*in.NumNodeGroups)
		if n < 1 {
			return nil, api.InvalidParameterValueException("NumNodeGroups must be at least 1.")
		}
		if count > 0 && count != n {
			return nil, api.InvalidParameterValueException("NumNodeGroups (%d) must equal the number of NodeGroupConfiguration entries (%d).", n, count)
		}
		count = n
	}
	count = max(count, 1)
	if count > maxNodeGroups {
		return nil, api.NodeGroupsPerReplicationGroupQuotaExceededFault("The number of node groups (%d) exceeds the maximum of %d per replication group.", count, maxNodeGroups)
	}
	replicas := 0
	if in.ReplicasPerNodeGroup != nil {
		replicas = int(*in.ReplicasPerNodeGroup)
	}
	slots, err := plannedSlots(configs, count)
	if err != nil {
		return nil, err
	}
	shards := make([]plannedShard, count)
	nodes := 0
	for i := range shards {
		sh := &shards[i]
		sh.id = fmt.Sprintf("%04d", i+1)
		sh.slots = hashslot.Format(slots[i])
		n := replicas
		var azs []string
		if i < len(configs) {
			c := configs[i]
			if c.NodeGroupId != nil {
				if !nodeGroupIDPattern.MatchString(*c.NodeGroupId) {
					return nil, api.InvalidParameterValueException("Invalid NodeGroupId %q: use 1 to 4 letters or digits.", *c.NodeGroupId)
				}
				sh.id = *c.NodeGroupId
			}
			if c.ReplicaCount != nil {
				n = int(*c.ReplicaCount)
			}
			if c.PrimaryAvailabilityZone != nil || len(c.ReplicaAvailabilityZones) > 0 {
				if c.PrimaryAvailabilityZone == nil || len(c.ReplicaAvailabilityZones) != n {
					return nil, api.InvalidParameterValueException("Node group %s: give PrimaryAvailabilityZone and one ReplicaAvailabilityZones entry per replica (%d).", sh.id, n)
				}
				azs = append([]string{*c.PrimaryAvailabilityZone}, c.ReplicaAvailabilityZones...)
			}
		}
		if n < 0 || n > maxNodesPerShard-1 {
			return nil, api.InvalidParameterValueException("The number of replicas per node group must be within 0 and 5.")
		}
		for j := range n + 1 {
			az, err := at.memberAZ(azs, j, g.MultiAZ)
			if err != nil {
				return nil, err
			}
			sh.members = append(sh.members, plannedMember{id: fmt.Sprintf("%s-%s-%03d", g.ID, strings.ToLower(sh.id), j+1), az: az})
		}
		nodes += n + 1
	}
	for i := range shards {
		for j := range i {
			if shards[i].id == shards[j].id {
				return nil, api.InvalidParameterValueException("NodeGroupId %s is given twice.", shards[i].id)
			}
		}
	}
	if nodes > maxNodes {
		return nil, api.NodeQuotaForClusterExceededFault("Cluster node quota exceeded. Each cluster can have at most %d nodes in this region.", maxNodes)
	}
	return shards, nil
}

// plannedSlots are the slots of each shard: ElastiCache's even split, or every configuration's Slots, which
// must then cover all 16384 slots exactly once.
func plannedSlots(configs []api.NodeGroupConfiguration, count int) ([][]hashslot.Range, error) {
	given := slices.ContainsFunc(configs, func(c api.NodeGroupConfiguration) bool { return c.Slots != nil })
	if !given {
		return hashslot.Even(count), nil
	}
	out := make([][]hashslot.Range, count)
	var all []hashslot.Range
	for i, c := range configs {
		if c.Slots == nil {
			return nil, api.InvalidParameterValueException("Slots must be given for every node group or for none.")
		}
		rs, err := hashslot.Parse(*c.Slots)
		if err != nil || len(rs) == 0 {
			return nil, api.InvalidParameterValueException("Invalid Slots %q: use ranges such as 0-5460 within 0-16383.", *c.Slots)
		}
		out[i] = hashslot.Normalize(rs)
		all = append(all, rs...)
	}
	if err := hashslot.CheckOverlap(all); err != nil || hashslot.Count(all) != hashslot.NumSlots {
		return nil, api.InvalidParameterValueException("The Slots of the node groups must cover 0-16383, each slot once.")
	}
	return out, nil
}

// ModifyReplicationGroupShardConfiguration reshards a cluster mode enabled group online: NodeGroupCount
// above the current count adds node groups, below it removes NodeGroupsToRemove (or all but
// NodeGroupsToRetain), equal to it rebalances. Slots are spread evenly over the node groups that stay,
// moving as few as possible; the controller moves them with their keys while the cluster serves.
func (s *Service) ModifyReplicationGroupShardConfiguration(ctx context.Context, in *api.ModifyReplicationGroupShardConfigurationMessage) (*api.ModifyReplicationGroupShardConfigurationResult, error) {
	switch {
	case in.NodeGroupCount == nil:
		return nil, api.InvalidParameterValueException("The parameter NodeGroupCount must be provided.")
	case !deref(in.ApplyImmediately):
		return nil, api.InvalidParameterValueException("ApplyImmediately must be true: resharding starts immediately.")
	case *in.NodeGroupCount < 1:
		return nil, api.InvalidParameterValueException("NodeGroupCount must be at least 1.")
	case *in.NodeGroupCount > maxNodeGroups:
		return nil, api.NodeGroupsPerReplicationGroupQuotaExceededFault("The number of node groups (%d) exceeds the maximum of %d per replication group.", *in.NodeGroupCount, maxNodeGroups)
	case len(in.NodeGroupsToRemove) > 0 && len(in.NodeGroupsToRetain) > 0:
		return nil, api.InvalidParameterCombinationException("Specify either NodeGroupsToRemove or NodeGroupsToRetain, not both.")
	}
	want := int(*in.NodeGroupCount)
	rg := region(ctx)
	g, err := s.updateGroup(ctx, rg, strings.ToLower(deref(in.ReplicationGroupId)), func(tx store.Tx, g *resource.ReplicationGroup, all []*resource.Cluster) error {
		if !g.ClusterEnabled {
			return api.InvalidParameterCombinationException("Replication group %s has cluster mode disabled; shards can only be changed with cluster mode enabled.", g.ID)
		}
		remove, err := nodeGroupsToRemove(g, want, in)
		if err != nil {
			return err
		}
		added := max(want-len(g.NodeGroups), 0)
		if len(in.ReshardingConfiguration) > 0 && added == 0 {
			return api.InvalidParameterCombinationException("ReshardingConfiguration applies only when NodeGroupCount (%d) is greater than the current number of node groups (%d).", want, len(g.NodeGroups))
		}
		replicas := len(g.NodeGroups[0].Members) - 1
		nodes := len(g.MemberIDs()) + added*(replicas+1)
		if nodes > s.cfg.Quotas.NodesPerGroup {
			return api.NodeGroupsPerReplicationGroupQuotaExceededFault("%d node groups of %d nodes would exceed the quota of %d nodes per cluster.", want, replicas+1, s.cfg.Quotas.NodesPerGroup)
		}
		if err := s.checkNodeQuota(all, rg, added*(replicas+1)); err != nil {
			return err
		}
		if err := s.addNodeGroups(tx, g, added, replicas, in.ReshardingConfiguration); err != nil {
			return err
		}
		return beginResharding(g, want, remove, s.now().UTC())
	})
	if err != nil {
		return nil, err
	}
	return &api.ModifyReplicationGroupShardConfigurationResult{ReplicationGroup: s.renderReplicationGroup(ctx, g)}, nil
}

// nodeGroupsToRemove checks the scale-in arguments and lists the node groups to remove.
func nodeGroupsToRemove(g *resource.ReplicationGroup, want int, in *api.ModifyReplicationGroupShardConfigurationMessage) ([]string, error) {
	current := len(g.NodeGroups)
	if want >= current {
		if len(in.NodeGroupsToRemove) > 0 || len(in.NodeGroupsToRetain) > 0 {
			return nil, api.InvalidParameterCombinationException("NodeGroupsToRemove and NodeGroupsToRetain apply only when NodeGroupCount (%d) is less than the current number of node groups (%d).", want, current)
		}
		return nil, nil
	}
	if len(in.NodeGroupsToRemove) == 0 && len(in.NodeGroupsToRetain) == 0 {
		return nil, api.InvalidParameterValueException("NodeGroupsToRemove or NodeGroupsToRetain is required when NodeGroupCount (%d) is less than the current number of node groups (%d).", want, current)
	}
	named := in.NodeGroupsToRemove
	if len(named) == 0 {
		named = in.NodeGroupsToRetain
	}
	for i, id := range named {
		if g.NodeGroup(id) == nil {
			return nil, api.InvalidParameterValueException("Node group %s is not part of replication group %s.", id, g.ID)
		}
		if slices.Contains(named[:i], id) {
			return nil, api.InvalidParameterValueException("Node group %s is named twice.", id)
		}
	}
	remove := slices.Clone(in.NodeGroupsToRemove)
	if len(in.NodeGroupsToRetain) > 0 {
		remove = nil
		for _, ng := range g.NodeGroups {
			if !slices.Contains(in.NodeGroupsToRetain, ng.ID) {
				remove = append(remove, ng.ID)
			}
		}
	}
	if current-len(remove) != want {
		return nil, api.InvalidParameterValueException("Removing %d of %d node groups does not leave NodeGroupCount %d.", len(remove), current, want)
	}
	return remove, nil
}

// addNodeGroups adds n node groups of 1+replicas new member clusters, without slots.
func (s *Service) addNodeGroups(tx store.Tx, g *resource.ReplicationGroup, n, replicas int, config []api.ReshardingConfiguration) error {
	if n == 0 {
		return nil
	}
	batch, err := s.newMemberBatch(tx, g, n*(replicas+1))
	if err != nil {
		return err
	}
	at, err := s.placement(tx, g.Region, g.SubnetGroup)
	if err != nil {
		return err
	}
	var fresh []api.ReshardingConfiguration // entries for new node groups: the others name existing ones
	for _, rc := range config {
		if rc.NodeGroupId == nil || g.NodeGroup(*rc.NodeGroupId) == nil {
			fresh = append(fresh, rc)
		}
	}
	if len(fresh) > n {
		return api.InvalidParameterValueException("ReshardingConfiguration describes %d new node groups; NodeGroupCount adds %d.", len(fresh), n)
	}
	next := 1
	for k := range n {
		var azs []string
		id := ""
		if k < len(fresh) {
			rc := fresh[k]
			if rc.NodeGroupId != nil {
				if id = *rc.NodeGroupId; !nodeGroupIDPattern.MatchString(id) {
					return api.InvalidParameterValueException("Invalid NodeGroupId %q: use 1 to 4 letters or digits.", id)
				}
				if g.NodeGroup(id) != nil {
					return api.InvalidParameterValueException("Node group %s is named twice in ReshardingConfiguration.", id)
				}
			}
			if azs = rc.PreferredAvailabilityZones; len(azs) == 0 {
				azs = nil
			} else if len(azs) != replicas+1 {
				return api.InvalidParameterValueException("ReshardingConfiguration for a new node group needs %d Availability Zones, one per node.", replicas+1)
			}
		}
		if id == "" {
			for nodeGroupIDTaken(tx, g, fresh, fmt.Sprintf("%04d", next)) {
				next++
			}
			id = fmt.Sprintf("%04d", next)
			next++
		}
		ng := resource.NodeGroup{ID: id, Status: resource.StatusCreating}
		for j := range replicas + 1 {
			az, err := at.memberAZ(azs, j, g.MultiAZ)
			if err != nil {
				return err
			}
			mid := fmt.Sprintf("%s-%s-%03d", g.ID, strings.ToLower(id), j+1)
			if _, err := tx.Get(resource.KindCluster, resource.Key(g.Region, mid)); err == nil {
				return api.InvalidParameterValueException("Cache cluster %s already exists.", mid)
			}
			if err := batch.create(mid, az); err != nil {
				return err
			}
			role := resource.RoleReplica
			if j == 0 {
				role = resource.RolePrimary
			}
			ng.Members = append(ng.Members, resource.Member{ClusterID: mid, Role: role})
		}
		g.NodeGroups = append(g.NodeGroups, ng)
	}
	return s.addShardLogs(tx, g, g.NodeGroups[len(g.NodeGroups)-n:])
}

// addShardLogs lays out the transaction logs of a durable group's new node groups, on ports taken after
// their members' (which the transaction holds already).
func (s *Service) addShardLogs(tx store.Tx, g *resource.ReplicationGroup, added []resource.NodeGroup) error {
	if !g.Durable() {
		return nil
	}
	ports, err := s.allocatePorts(tx, 2*resource.LogReplicasPerShard*len(added))
	if err != nil {
		return err
	}
	for i := range added {
		added[i].Log, ports = newShardLog(g, ports), ports[2*resource.LogReplicasPerShard:]
	}
	return nil
}

// nodeGroupIDTaken reports whether a new node group of g cannot be called id: g has one, ReshardingConfiguration
// names one so, or the member clusters of a node group of that name that a scale-in removed are still being
// deleted.
func nodeGroupIDTaken(tx store.Tx, g *resource.ReplicationGroup, fresh []api.ReshardingConfiguration, id string) bool {
	if g.NodeGroup(id) != nil || slices.ContainsFunc(fresh, func(rc api.ReshardingConfiguration) bool { return deref(rc.NodeGroupId) == id }) {
		return true
	}
	_, err := tx.Get(resource.KindCluster, resource.Key(g.Region, fmt.Sprintf("%s-%s-001", g.ID, strings.ToLower(id))))
	return err == nil
}

// beginResharding records the target slots: an even share for every node group that stays, the fewest
// slots moved, nothing for the node groups being removed.
func beginResharding(g *resource.ReplicationGroup, want int, remove []string, now time.Time) error {
	var order []int // kept node groups first (existing, then new), removed ones last
	for i, ng := range g.NodeGroups {
		if !slices.Contains(remove, ng.ID) {
			order = append(order, i)
		}
	}
	for i, ng := range g.NodeGroups {
		if slices.Contains(remove, ng.ID) {
			order = append(order, i)
		}
	}
	current := make([][]hashslot.Range, len(order))
	for k, i := range order {
		rs, err := hashslot.Parse(g.NodeGroups[i].Slots)
		if err != nil {
			return fmt.Errorf("node group %s slots: %w", g.NodeGroups[i].ID, err)
		}
		current[k] = rs
	}
	target := hashslot.Balance(current, want)
	r := &resource.Resharding{Target: map[string]string{}, Remove: remove, StartedAt: now}
	for k, i := range order {
		ng := &g.NodeGroups[i]
		if k < want {
			r.Target[ng.ID] = hashslot.Format(target[k])
		}
		if ng.Status != resource.StatusCreating {
			ng.Status = resource.StatusModifying
		}
	}
	for _, m := range hashslot.PlanMoves(current, target) {
		r.TotalSlots += m.Slots.Len()
	}
	g.Resharding = r
	g.Status = resource.StatusModifying
	return nil
}
