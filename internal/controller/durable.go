package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/atrest"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/durable"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/txlog"
)

// Durable groups (Durability sync and async): each node group has a transaction log of its own, three `ecache
// txlog-replica` processes the driver runs like engines. Clients reach every member node through its
// durable endpoint on the node's port, which answers writes once the log has them (sync), or at once while
// the oldest write the log lacks is within the durability window (async); the engine runs behind
// it on the node's EnginePorts and announces the endpoint's port, so that clients redirected by the cluster
// and replicas following a primary come to the endpoint too. Replicas are fed by the shard's relay (the
// log), never by the primary. The shard's primary ships its replication stream into the log under an epoch
// of its own, recorded in the group (ShardLog.Epoch); a failover fences the log with a new epoch and
// promotes a replica only once it has applied the whole log. This file holds the per-shard runtime
// (durable.Shard) and the log replicas; clusters.go opens the endpoints and failover.go goes through the log.

// durableShards are the runtimes of the durable shards this process serves, by group store key and node
// group.
type durableShards struct {
	mu     sync.Mutex
	shards map[string]*durable.Shard
	// logs maps a log replica's driver id to its group's store key, for the driver's exit reports.
	logs map[string]string
}

func shardKey(groupKey, nodeGroup string) string { return groupKey + "/" + nodeGroup }

// durableShard returns the runtime of node group ng of durable group g, creating it on first use.
func (c *Controller) durableShard(key string, g *resource.ReplicationGroup, ng *resource.NodeGroup) *durable.Shard {
	d := &c.durables
	d.mu.Lock()
	defer d.mu.Unlock()
	if sh := d.shards[shardKey(key, ng.ID)]; sh != nil {
		return sh
	}
	cps := &durable.Checkpoints{Dir: c.checkpointDir(g, ng.ID)}
	if g.AtRestEncryption && c.cfg.AtRest != nil {
		cps.Keys, cps.Label = c.cfg.AtRest, g.KMSKeyID
	}
	ngID := ng.ID
	sh := durable.NewShard(durable.ShardConfig{
		Log: txlog.NewClient(c.logAPIs(ng)), Checkpoints: cps, Passwords: func() ([]string, error) { return c.authTokens(key, ngID) },
		NextEpoch: func(ctx context.Context) (uint64, error) { return c.nextEpoch(ctx, key, ngID) },
		ShipperEnded: func(err error) {
			c.logger.Warn("durable shard: the primary's stream stopped reaching the log", "group", g.ID, "nodeGroup", ngID, "err", err)
			c.mgr.enqueue(resource.KindReplicationGroup, key)
		},
		Logger: c.logger.With("group", g.ID, "nodeGroup", ngID),
	})
	if d.shards == nil {
		d.shards = map[string]*durable.Shard{}
	}
	d.shards[shardKey(key, ng.ID)] = sh
	return sh
}

// authTokens are the AUTH tokens the members of node group ng take now: the current one, and the previous
// one while it is being rotated.
func (c *Controller) authTokens(key, ng string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, _, err := resource.Load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, key)
	if err != nil {
		return nil, err
	}
	n := g.NodeGroup(ng)
	if n == nil || len(n.Members) == 0 {
		return nil, fmt.Errorf("%s has no node group %s", g.ID, ng)
	}
	cl, _, err := resource.Load[resource.Cluster](ctx, c.store, resource.KindCluster, resource.Key(g.Region, n.Members[0].ClusterID))
	if err != nil {
		return nil, err
	}
	if cl.ACLSecret != "" {
		return []string{cl.ACLSecret}, nil // replicas authenticate as ecache's own user
	}
	return []string{cl.AuthToken, cl.PreviousAuthToken}, nil
}

// checkpointDir holds a durable shard's checkpoints (its dataset at a log offset), in its group's directory.
func (c *Controller) checkpointDir(g *resource.ReplicationGroup, nodeGroup string) string {
	return filepath.Join(c.durableGroupDir(g), nodeGroup)
}

// durableGroupDir holds the checkpoint directories of a durable group's shards.
func (c *Controller) durableGroupDir(g *resource.ReplicationGroup) string {
	return filepath.Join(c.cfg.DurableDir, g.Region, g.ID+"-"+g.UID)
}

// logAPIs are the API addresses of a shard's log replicas.
func (c *Controller) logAPIs(ng *resource.NodeGroup) []string {
	var out []string
	for _, r := range ng.Log.Replicas {
		out = append(out, net.JoinHostPort(c.cfg.NodeHost, strconv.Itoa(r.APIPort)))
	}
	return out
}

// nextEpoch records a new epoch for a primary of node group ng and returns it: epochs live in the store,
// so they never repeat, across restarts of ecache too.
func (c *Controller) nextEpoch(ctx context.Context, key, ng string) (uint64, error) {
	var epoch uint64
	err := resource.Edit(ctx, c.store, resource.KindReplicationGroup, key, func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
		n := g.NodeGroup(ng)
		if n == nil || n.Log == nil {
			return false, fmt.Errorf("node group %s of %s has no log", ng, g.ID)
		}
		n.Log.Epoch++
		epoch = n.Log.Epoch
		return true, nil
	})
	return epoch, err
}

// ensureShardLogs keeps every replica of a durable group's logs running.
func (c *Controller) ensureShardLogs(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	exe := c.cfg.Executable
	if exe == "" {
		return errors.New("the ecache executable, which runs log replicas, is not known")
	}
	for i := range g.NodeGroups {
		ng := &g.NodeGroups[i]
		if ng.Log == nil {
			continue
		}
		var peers []string
		for _, r := range ng.Log.Replicas {
			peers = append(peers, fmt.Sprintf("%s=%s=%s", r.ID, net.JoinHostPort(c.cfg.NodeHost, strconv.Itoa(r.RaftPort)),
				net.JoinHostPort(c.cfg.NodeHost, strconv.Itoa(r.APIPort))))
		}
		sealing, err := c.logSealing(g, ng)
		if err != nil {
			return err
		}
		for _, r := range ng.Log.Replicas {
			id := g.LogDriverID(ng, r)
			c.durables.mu.Lock()
			if c.durables.logs == nil {
				c.durables.logs = map[string]string{}
			}
			c.durables.logs[id] = key
			c.durables.mu.Unlock()
			spec := driver.NodeSpec{ID: id, Engine: driver.EngineTxlog, Binary: exe, Port: r.APIPort, Bind: []string{c.cfg.NodeHost},
				Args: append([]string{"--id", r.ID, "--peers", strings.Join(peers, ",")}, sealing...)}
			if _, err := c.driver.Ensure(ctx, spec); err != nil && !errors.Is(err, driver.ErrNodeDown) {
				return fmt.Errorf("log replica %s of %s node group %s: %w", r.ID, g.ID, ng.ID, err)
			}
		}
	}
	return nil
}

// logSealing are the arguments that make the log replicas of node group ng seal what they keep on disk,
// when g has at-rest encryption: the file of the key ecache keeps for g (its own, or KmsKeyId's) and the
// log's data key, sealed with it (created with the log).
func (c *Controller) logSealing(g *resource.ReplicationGroup, ng *resource.NodeGroup) ([]string, error) {
	if !g.AtRestEncryption || c.cfg.AtRest == nil {
		return nil, nil
	}
	files, ok := c.cfg.AtRest.(atrest.KeyFiler)
	if !ok {
		return nil, fmt.Errorf("%s: the at-rest keys are not files a log replica can read", g.ID)
	}
	kek, err := files.KeyFile(g.KMSKeyID)
	if err != nil {
		return nil, err
	}
	dataKey := filepath.Join(c.checkpointDir(g, ng.ID), "log.key")
	if _, err := os.Stat(dataKey); errors.Is(err, os.ErrNotExist) {
		_, err = atomicfile.Write(dataKey, 0o600, func(w io.Writer) (int64, error) {
			sealed, err := atrest.Seal(w, c.cfg.AtRest, g.KMSKeyID)
			if err != nil {
				return 0, err
			}
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			if _, err := sealed.Write(key); err != nil {
				return 0, err
			}
			return 0, sealed.Close()
		})
		if err != nil {
			return nil, fmt.Errorf("data key of %s node group %s's log: %w", g.ID, ng.ID, err)
		}
	} else if err != nil {
		return nil, err
	}
	return []string{"--key-file", kek, "--data-key-file", dataKey}, nil
}

// logOwner is the store key of the group whose log replica the driver runs as id, "" when none is.
func (c *Controller) logOwner(id string) string {
	c.durables.mu.Lock()
	defer c.durables.mu.Unlock()
	return c.durables.logs[id]
}

// logDriverIDs lists the driver ids of every log replica of the stored groups.
func logDriverIDs(groups []*resource.ReplicationGroup) []string {
	var out []string
	for _, g := range groups {
		for i := range g.NodeGroups {
			if ng := &g.NodeGroups[i]; ng.Log != nil {
				for _, r := range ng.Log.Replicas {
					out = append(out, g.LogDriverID(ng, r))
				}
			}
		}
	}
	return out
}

// leadShards makes the running primary of each shard of a durable group lead its log: its writes are
// acknowledged once logged, and its replicas (fed by the relay) have a dataset to start from. A shard whose
// primary is down is left to the failover.
func (c *Controller) leadShards(ctx context.Context, key string, g *resource.ReplicationGroup, shards []shard) error {
	for _, s := range shards {
		ng := g.NodeGroup(s.id)
		if ng == nil || ng.Log == nil || s.primary == nil || !s.primary.running {
			continue
		}
		runtime := c.durableShard(key, g, ng)
		direct := c.directNode(s.primary.cluster)
		if leading, _, ok := runtime.Leading(); ok && leading.Addr == direct.Addr {
			continue
		}
		if err := runtime.Lead(ctx, direct); err != nil {
			return fmt.Errorf("%s node group %s: %w", g.ID, s.id, err)
		}
		c.logger.Info("durable shard led by its primary", "group", g.ID, "nodeGroup", s.id, "primary", s.primary.cluster.ID)
	}
	return nil
}

// catchUp prepares a durable shard's replica to take over: the log is fenced (the old primary commits
// nothing more) and the replica applies it to its end.
func (c *Controller) catchUp(ctx context.Context, key string, g *resource.ReplicationGroup, s shard, chosen *member) error {
	return c.onShard(ctx, key, g, s, func(ctx context.Context, sh *durable.Shard) error {
		return sh.CatchUp(ctx, c.directNode(chosen.cluster))
	})
}

// lead makes a durable shard's new primary lead its log.
func (c *Controller) lead(ctx context.Context, key string, g *resource.ReplicationGroup, s shard, primary *member) error {
	return c.onShard(ctx, key, g, s, func(ctx context.Context, sh *durable.Shard) error {
		return sh.Lead(ctx, c.directNode(primary.cluster))
	})
}

// onShard runs op on the runtime of shard s of durable group g, within clusterOpTimeout.
func (c *Controller) onShard(ctx context.Context, key string, g *resource.ReplicationGroup, s shard, op func(context.Context, *durable.Shard) error) error {
	ng := g.NodeGroup(s.id)
	if ng == nil || ng.Log == nil {
		return fmt.Errorf("%s node group %s has no log", g.ID, s.id)
	}
	ctx, cancel := context.WithTimeout(ctx, clusterOpTimeout)
	defer cancel()
	return op(ctx, c.durableShard(key, g, ng))
}

// closeDurableGroup stops a deleted durable group's shard runtimes and removes its log replicas and
// checkpoints.
func (c *Controller) closeDurableGroup(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	c.durables.mu.Lock()
	for k, sh := range c.durables.shards {
		if strings.HasPrefix(k, key+"/") {
			sh.Close()
			delete(c.durables.shards, k)
		}
	}
	c.durables.mu.Unlock()
	for _, id := range logDriverIDs([]*resource.ReplicationGroup{g}) {
		if err := c.driver.Remove(ctx, id); err != nil {
			return fmt.Errorf("log replica %s: %w", id, err)
		}
		c.durables.mu.Lock()
		delete(c.durables.logs, id)
		c.durables.mu.Unlock()
	}
	return os.RemoveAll(c.durableGroupDir(g))
}

// retireShardLogs stops what served the node groups a durable group no longer has (resharding removed them):
// their shard runtimes, their log replicas and their checkpoints.
func (c *Controller) retireShardLogs(ctx context.Context, key string, g *resource.ReplicationGroup) error {
	keep := map[string]bool{}
	for _, id := range logDriverIDs([]*resource.ReplicationGroup{g}) {
		keep[id] = true
	}
	d := &c.durables
	d.mu.Lock()
	var gone []string
	for id, owner := range d.logs {
		if owner == key && !keep[id] {
			gone = append(gone, id)
		}
	}
	var retired []string // node groups whose runtime ran here
	for k, sh := range d.shards {
		if ng, ok := strings.CutPrefix(k, key+"/"); ok && g.NodeGroup(ng) == nil {
			sh.Close()
			delete(d.shards, k)
			retired = append(retired, ng)
		}
	}
	d.mu.Unlock()
	for _, id := range gone {
		if err := c.driver.Remove(ctx, id); err != nil {
			return fmt.Errorf("log replica %s: %w", id, err)
		}
		d.mu.Lock()
		delete(d.logs, id)
		d.mu.Unlock()
		c.logger.Info("log replica of a removed node group stopped", "group", g.ID, "replica", id)
	}
	for _, ng := range retired {
		if err := os.RemoveAll(c.checkpointDir(g, ng)); err != nil {
			return err
		}
	}
	return nil
}

// sweepCheckpoints removes the checkpoints of durable groups and node groups the store no longer has (removed
// while ecache was down, or before it retired them): at start, with the orphaned engines.
func (c *Controller) sweepCheckpoints(groups []*resource.ReplicationGroup) error {
	byDir := map[string]*resource.ReplicationGroup{}
	for _, g := range groups {
		byDir[c.durableGroupDir(g)] = g
	}
	dirs, _ := filepath.Glob(filepath.Join(c.cfg.DurableDir, "*", "*"))
	for _, dir := range dirs {
		g := byDir[dir]
		if g == nil {
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			continue
		}
		shards, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range shards {
			if e.IsDir() && g.NodeGroup(e.Name()) == nil {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// closeDurables stops every shard runtime (ecache is stopping; the engines and log replicas keep running).
func (c *Controller) closeDurables() {
	c.durables.mu.Lock()
	defer c.durables.mu.Unlock()
	for k, sh := range c.durables.shards {
		sh.Close()
		delete(c.durables.shards, k)
	}
}

// directNode is how the controller reaches a cluster's engine itself rather than its node's port: on a
// durable member, the engine's plain port behind the durable endpoint (whose writes wait for the log and
// which hands replication connections to the relay); elsewhere what engineNode gives.
func (c *Controller) directNode(cl *resource.Cluster) resp.Node {
	if n := cl.Nodes[0]; cl.Durable && len(n.EnginePorts) == 2 {
		d := resp.Node{Addr: net.JoinHostPort(resource.LoopbackFor(cl.IPDiscovery), strconv.Itoa(n.EnginePorts[0])), Password: cl.AuthToken}
		if cl.ACLSecret != "" {
			d.User, d.Password = resource.ControlUserName, cl.ACLSecret
		}
		return d
	}
	n, _ := c.engineNode(cl)
	return n
}

// durableEndpoint keeps a durable member node's endpoint listening on its port, in front of the engine's
// plain port, with its shard's relay for replicas.
func (c *Controller) durableEndpoint(ctx context.Context, cl *resource.Cluster, n resource.Node) error {
	gkey := resource.Key(cl.Region, cl.ReplicationGroupID)
	g, _, err := resource.Load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, gkey)
	if err != nil {
		return fmt.Errorf("group of durable member %s: %w", cl.ID, err)
	}
	var ng *resource.NodeGroup
	for i := range g.NodeGroups {
		for _, m := range g.NodeGroups[i].Members {
			if m.ClusterID == cl.ID {
				ng = &g.NodeGroups[i]
			}
		}
	}
	if ng == nil || ng.Log == nil {
		return fmt.Errorf("durable member %s is in no node group with a log", cl.ID)
	}
	server, _, err := c.tlsConfigs()
	if err != nil {
		return err
	}
	sh := c.durableShard(gkey, g, ng)
	return c.listeners.ensureDurable(ctx, cl.DriverID(n.ID), durable.EndpointConfig{
		Addr: n.Addr(c.nodeHost(cl.IPDiscovery)), Engine: c.directNode(cl), Relay: sh.Relay(), TLS: server,
		Async: g.AsyncDurability(), IAM: c.iamPasswords(gkey), Logger: c.logger,
	})
}

// applyDurabilityMode switches the shards and the endpoints of a durable group's members to the group's mode
// (sync and async switch with ModifyReplicationGroup; the endpoints opened later take it from the group).
func (c *Controller) applyDurabilityMode(key string, g *resource.ReplicationGroup, members []member) {
	for i := range g.NodeGroups {
		if ng := &g.NodeGroups[i]; ng.Log != nil {
			c.durableShard(key, g, ng).SetAsync(g.AsyncDurability())
		}
	}
	for _, m := range members {
		for _, n := range m.cluster.Nodes {
			c.listeners.setDurabilityMode(m.cluster.DriverID(n.ID), g.AsyncDurability())
		}
	}
}
