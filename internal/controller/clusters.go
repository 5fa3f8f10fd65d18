package controller

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/endpoint"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// The cluster reconciler: each cache cluster's nodes run as its record says, its Memcached configuration
// endpoint is current, and its status and events say what is.

// nodeResult is what reconciling one node did.
type nodeResult struct {
	ready    bool // running and answering
	removed  bool
	rebooted bool
	// started holds the requires-reboot parameter values the node was (re)started with, when it was.
	started map[string]string
	// pendingReboot is set when the group's requires-reboot values differ from what the node runs.
	pendingReboot bool
	// incompatible is the engine's reason when it refused to start with the node's parameters.
	incompatible string
	// restoreFailed is why the node cannot be restored from its snapshot, when that will not change.
	restoreFailed string
}

// reconcileCluster converges one cluster; retry asks for another pass soon.
func (c *Controller) reconcileCluster(ctx context.Context, key string) (retry bool, err error) {
	cl, rev, found, err := load[resource.Cluster](ctx, c.store, resource.KindCluster, key)
	if err != nil {
		return false, err
	}
	if !found {
		c.listeners.closeMemcached(key)
		return false, nil
	}
	if cl.Status == resource.StatusDeleting {
		if pending, err := c.finalSnapshotPending(ctx, cl); err != nil || pending {
			return true, err // a final snapshot is still being copied from the engine
		}
		return false, c.deleteCluster(ctx, key, cl)
	}
	if cl.Status == resource.StatusRestoreFailed {
		return false, c.removeEngines(ctx, key, cl) // nothing to run until it is deleted
	}
	if cl.Status == resource.StatusAvailable && !cl.Pending.Empty() {
		if err := c.applyDuePending(ctx, key); err != nil {
			return true, err
		}
	}
	version, err := c.host.Resolve(cl.Engine, cl.EngineVersion)
	if err != nil {
		return true, fmt.Errorf("engine %s %s: %w", cl.Engine, cl.EngineVersion, err)
	}
	values, err := c.groupValues(ctx, cl)
	if err != nil {
		return true, err
	}
	results := map[string]nodeResult{}
	var firstErr error
	for _, n := range cl.Nodes {
		r, err := c.reconcileNode(ctx, key, cl, n, version, values)
		if err != nil {
			c.logger.Error("reconcile cache node", "cluster", cl.ID, "node", n.ID, "err", err)
			firstErr = errors.Join(firstErr, err)
		}
		results[n.ID] = r
	}
	if cl.Engine == engine.EngineMemcached {
		if err := c.reconcileConfigEndpoint(ctx, key, cl, results, version); err != nil {
			firstErr = errors.Join(firstErr, err)
		}
	}
	if err := c.writeStatus(ctx, key, rev, results); err != nil {
		return true, err
	}
	if cl.ReplicationGroupID != "" {
		c.mgr.enqueue(resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
	}
	for _, r := range results {
		if !r.ready && !r.removed {
			return true, firstErr
		}
	}
	return firstErr != nil, firstErr
}

func (c *Controller) reconcileNode(ctx context.Context, key string, cl *resource.Cluster, n resource.Node, v engine.Version, values map[string]string) (nodeResult, error) {
	id := cl.DriverID(n.ID)
	if n.Remove {
		if err := c.driver.Remove(ctx, id); err != nil {
			return nodeResult{}, err
		}
		c.forget(id)
		return nodeResult{removed: true}, nil
	}
	groupStatic := staticValues(v.Family, values)
	started, fresh := n.StaticValues, n.Reboot || n.Status == resource.NodeCreating
	if fresh {
		started = groupStatic
	}
	tlsFiles, err := c.nodeTLS(ctx, cl, n)
	if err != nil {
		return nodeResult{}, err
	}
	spec, err := nodeSpec(cl, n, v, effectiveValues(v.Family, values, started), tlsFiles)
	if err != nil {
		return nodeResult{}, err
	}
	if spec.ACL, err = c.nodeACL(ctx, cl); err != nil {
		return nodeResult{}, err
	}
	spec.StayDown = c.stayDown(ctx, cl)
	if cl.SeedSnapshot != "" && n.Status == resource.NodeCreating {
		if err := c.downloadSeed(ctx, cl, cl.SeedFiles()[0]); err != nil {
			return nodeResult{restoreFailed: restoreRefusal(err)}, err
		}
		seed, done, err := c.plainFile(filepath.Join(c.cfg.SnapshotDir, cl.SeedSnapshot))
		if err != nil {
			return nodeResult{}, fmt.Errorf("restore file of %s: %w", cl.ID, err)
		}
		defer done()        // the driver has its own link or copy once the engine is started
		spec.SeedRDB = seed // a restore: the first start loads it
	}
	res := nodeResult{ready: true, pendingReboot: !sameValues(started, groupStatic)}
	if fresh {
		res.started = started
	}
	c.mu.Lock()
	c.owners[id] = key
	c.mu.Unlock()
	if spec.PlainPort == 0 {
		c.listeners.closeSplit(id) // the engine takes the node's port back
	}
	if _, err := c.driver.Ensure(ctx, spec); err != nil {
		if errors.Is(err, driver.ErrConfigRejected) {
			return nodeResult{incompatible: engineReason(err)}, err
		}
		if reason := restoreRefusal(err); reason != "" {
			return nodeResult{restoreFailed: reason}, err // the engine cannot load its seed
		}
		if errors.Is(err, driver.ErrNodeDown) {
			return nodeResult{}, nil // the group's reconciler promotes a replica first
		}
		if errors.Is(err, driver.ErrClusterConfigCorrupt) && c.replicaOfFormedCluster(ctx, cl) {
			// A replica's nodes.conf broken by a kill: it starts afresh and the group reconciler adds it back
			// to its shard (its data comes from the primary).
			c.logger.Warn("cluster configuration of a replica damaged; starting it afresh", "cluster", cl.ID, "node", n.ID)
			if rerr := c.driver.Remove(ctx, id); rerr != nil {
				return nodeResult{}, errors.Join(err, rerr)
			}
		}
		if errors.Is(err, driver.ErrPortInUse) && n.Status == resource.NodeCreating {
			// A node nobody connects to yet moves to a free port; a serving node keeps its endpoint.
			if merr := c.movePort(ctx, key, n.ID, n.Port); merr != nil {
				return nodeResult{}, errors.Join(err, merr)
			}
		}
		return nodeResult{}, err
	}
	if cl.Durable {
		if err := c.durableEndpoint(ctx, cl, n); err != nil {
			return nodeResult{}, err
		}
	} else if err := c.splitPort(cl, n, spec); err != nil {
		return nodeResult{}, err
	}
	if len(cl.MergeFiles) > 0 && n.Status == resource.NodeCreating {
		if err := c.mergeFiles(ctx, cl, v); err != nil {
			return nodeResult{restoreFailed: restoreRefusal(err)}, err
		}
	}
	if n.Status == resource.NodeCreating {
		c.removeDownloads(cl) // the engine holds their data now
	}
	if n.Reboot {
		if _, err := c.driver.Restart(ctx, id); errors.Is(err, driver.ErrConfigRejected) {
			return nodeResult{incompatible: engineReason(err)}, err
		} else if err != nil {
			return nodeResult{}, err
		}
		res.rebooted = true
	}
	return res, nil
}

// splitPort keeps the listener of a node that takes TLS and plain connections on its port (in-transit
// encryption preferred), once its engine runs behind it on its own two ports.
func (c *Controller) splitPort(cl *resource.Cluster, n resource.Node, spec driver.NodeSpec) error {
	id := cl.DriverID(n.ID)
	if spec.PlainPort == 0 {
		return nil
	}
	engineAt := func(port int) string { return net.JoinHostPort(spec.Host(), strconv.Itoa(port)) }
	if err := c.listeners.ensureSplit(id, n.Host(c.nodeHost(cl.IPDiscovery)), n.Port, engineAt(spec.PlainPort), engineAt(spec.Port)); err != nil {
		return fmt.Errorf("node %s port %d: %w", id, n.Port, err)
	}
	return nil
}

func sameValues(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (c *Controller) forget(id string) {
	c.mu.Lock()
	delete(c.owners, id)
	c.mu.Unlock()
	c.listeners.closeSplit(id)
	c.listeners.closeDurable(id)
	c.forgetNodeCert(id)
}

// reconcileConfigEndpoint keeps a Memcached cluster's configuration endpoint listening and its node list
// current, and stores the list on every node for clients that read AmazonElastiCache:cluster.
func (c *Controller) reconcileConfigEndpoint(ctx context.Context, key string, cl *resource.Cluster, results map[string]nodeResult, v engine.Version) error {
	var clientTLS, nodeTLS *tls.Config
	if cl.TransitEncryption {
		var err error
		if clientTLS, nodeTLS, err = c.tlsConfigs(); err != nil {
			return fmt.Errorf("configuration endpoint of %s: %w", cl.ID, err)
		}
	}
	ep, err := c.listeners.memcachedEndpoint(key, c.nodeHost(cl.IPDiscovery), cl.ConfigPort, clientTLS, nodeTLS, v.BinaryVersion)
	if err != nil {
		return fmt.Errorf("%s: %w", cl.ID, err)
	}
	var nodes []endpoint.ClusterNode
	for _, n := range cl.Nodes {
		if r := results[n.ID]; r.ready && !n.Remove {
			host := n.Host(c.nodeHost(cl.IPDiscovery))
			nodes = append(nodes, endpoint.ClusterNode{Host: host, IP: host, Port: n.Port})
		}
	}
	before := ep.Version()
	ep.SetNodes(nodes)
	if ep.Version() == before && !anyRebooted(results) {
		return nil
	}
	payload := ep.Payload()
	var errs error
	for _, n := range nodes {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		errs = errors.Join(errs, endpoint.SeedMemcachedNodeTLS(sctx, net.JoinHostPort(n.IP, strconv.Itoa(n.Port)), nodeTLS, payload))
		cancel()
	}
	return errs
}

func anyRebooted(results map[string]nodeResult) bool {
	for _, r := range results {
		if r.rebooted {
			return true
		}
	}
	return false
}

// deleteCluster stops every engine, then removes the cluster from the store.
func (c *Controller) deleteCluster(ctx context.Context, key string, cl *resource.Cluster) error {
	if err := c.removeEngines(ctx, key, cl); err != nil {
		return err
	}
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindCluster, key, func(tx store.Tx, cur *resource.Cluster, rev int64) (bool, error) {
		if cur.Status != resource.StatusDeleting || cur.UID != cl.UID {
			return false, nil
		}
		if err := tx.Delete(resource.KindCluster, key, rev); err != nil {
			return false, err
		}
		return false, resource.AddEvent(tx, now, 0, cur.Region, resource.SourceCacheCluster, cur.ID, "Cache cluster deleted")
	})
}

// removeEngines stops cl's engines and removes their directories and endpoints, all nodes at once, and the
// files downloaded for its restore.
func (c *Controller) removeEngines(ctx context.Context, key string, cl *resource.Cluster) error {
	c.listeners.closeMemcached(key)
	c.removeDownloads(cl)
	errs := make([]error, len(cl.Nodes))
	var wg sync.WaitGroup
	for i, n := range cl.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := cl.DriverID(n.ID)
			if err := c.driver.Remove(ctx, id); err != nil {
				errs[i] = fmt.Errorf("remove node %s: %w", id, err)
				return
			}
			c.forget(id)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// movePort gives a node that is still being created a new port from the range, when another program took
// the one it was given.
func (c *Controller) movePort(ctx context.Context, key, nodeID string, taken int) error {
	return resource.Edit(ctx, c.store, resource.KindCluster, key, func(tx store.Tx, cl *resource.Cluster, _ int64) (bool, error) {
		i := slices.IndexFunc(cl.Nodes, func(n resource.Node) bool { return n.ID == nodeID })
		if i < 0 || cl.Nodes[i].Port != taken || cl.Nodes[i].Status != resource.NodeCreating {
			return false, nil
		}
		n := &cl.Nodes[i]
		if n.Address != "" {
			addrs, ok, err := c.cfg.Ports.AllocateAddresses(tx, 1, n.Port)
			if err != nil || !ok {
				return false, cmp.Or(err, fmt.Errorf("no free address in the node range for %s node %s", cl.ID, nodeID))
			}
			c.logger.Warn("node address taken by another program; moving the node", "cluster", cl.ID, "node", nodeID, "from", n.Address, "to", addrs[0])
			n.Address = addrs[0]
			return true, nil
		}
		ports, ok, err := c.cfg.Ports.Allocate(tx, 1)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, fmt.Errorf("no free port in the node range for %s node %s", cl.ID, nodeID)
		}
		c.logger.Warn("node port taken by another program; moving the node", "cluster", cl.ID, "node", nodeID, "from", taken, "to", ports[0])
		n.Port = ports[0]
		return true, nil
	})
}

// writeStatus records what the node reconciles did and moves the cluster to available when it is done.
// observed is the revision the reconcile worked from: when the cluster changed since, the node results
// are recorded but the cluster keeps its status until a pass has seen the change through.
func (c *Controller) writeStatus(ctx context.Context, key string, observed int64, results map[string]nodeResult) error {
	now := c.cfg.Now().UTC()
	return resource.Edit(ctx, c.store, resource.KindCluster, key, func(tx store.Tx, cl *resource.Cluster, rev int64) (bool, error) {
		if cl.Status == resource.StatusDeleting {
			return false, nil
		}
		changed := false
		seq := 0
		emit := func(msg string) error {
			seq++
			changed = true
			return resource.AddEvent(tx, now, seq, cl.Region, resource.SourceCacheCluster, cl.ID, msg)
		}
		var kept []resource.Node
		pending := false
		for _, n := range cl.Nodes {
			r, seen := results[n.ID]
			if seen && r.ready {
				if r.started != nil && !sameValues(r.started, n.StaticValues) {
					n.StaticValues, changed = r.started, true
				}
				status := "in-sync"
				if r.pendingReboot {
					status, pending = "pending-reboot", true
				}
				if n.ParameterStatus != status {
					n.ParameterStatus, changed = status, true
				}
			}
			switch {
			case seen && r.removed && n.Remove:
				changed = true
				if err := emit("Removed cache node " + n.ID); err != nil {
					return false, err
				}
				continue
			case seen && r.rebooted && n.Reboot:
				n.Reboot, n.Status, changed = false, resource.NodeAvailable, true
				if err := emit("Cache node " + n.ID + " shutdown"); err != nil {
					return false, err
				}
				if err := emit("Cache node " + n.ID + " restarted"); err != nil {
					return false, err
				}
			case seen && r.ready && !n.Reboot && !n.Remove && n.Status != resource.NodeAvailable:
				wasCreating := n.Status == resource.NodeCreating
				n.Status, changed = resource.NodeAvailable, true
				if wasCreating && cl.Status != resource.StatusCreating {
					if err := emit(fmt.Sprintf("Added cache node %s in availability zone %s", n.ID, n.AZ)); err != nil {
						return false, err
					}
				}
			}
			kept = append(kept, n)
		}
		cl.Nodes = kept
		if msg := restoreFailure(cl, results); msg != "" {
			cl.Status = resource.StatusRestoreFailed
			return true, emit(msg)
		}
		if noted, err := noteIncompatible(cl, results, emit); err != nil || noted {
			changed = true
			if err != nil {
				return false, err
			}
		}
		applyStatus := "in-sync"
		if pending {
			applyStatus = "pending-reboot"
		}
		if cl.ParameterApplyStatus != applyStatus {
			cl.ParameterApplyStatus, changed = applyStatus, true
		}
		if settled(cl) && cl.Status != resource.StatusAvailable && rev == observed {
			switch cl.Status {
			case resource.StatusCreating:
				if err := emit("Cache cluster created"); err != nil {
					return false, err
				}
				for _, n := range cl.Nodes {
					if err := emit(fmt.Sprintf("Added cache node %s in availability zone %s", n.ID, n.AZ)); err != nil {
						return false, err
					}
				}
				if cl.SeedName != "" {
					if err := emit(fmt.Sprintf("Finished restoring cache node %s from snapshot '%s'", cl.Nodes[0].ID, cl.SeedName)); err != nil {
						return false, err
					}
				}
			case resource.StatusModifying:
				if cl.Pending.NumNodes != nil {
					if err := emit(fmt.Sprintf("Finished modifying number of nodes from %d to %d", cl.Pending.FromNodes, len(cl.Nodes))); err != nil {
						return false, err
					}
				}
				for _, msg := range cl.Pending.Completion {
					if err := emit(msg); err != nil {
						return false, err
					}
				}
				cl.Pending.NumNodes, cl.Pending.NodeIDsToRemove, cl.Pending.FromNodes = nil, nil, 0
				cl.Pending.AuthTokenStatus, cl.Pending.Completion = "", nil
			}
			cl.Status, changed = resource.StatusAvailable, true
		}
		return changed, nil
	})
}

// noteIncompatible records on cl whether an engine refused the cluster's parameters in this pass (with an
// event when it starts to), and reports whether that changed.
func noteIncompatible(cl *resource.Cluster, results map[string]nodeResult, emit func(string) error) (bool, error) {
	reason := ""
	for _, n := range cl.Nodes {
		if r := results[n.ID]; r.incompatible != "" {
			reason = fmt.Sprintf("cache node %s: %s", n.ID, r.incompatible)
			break
		}
	}
	if reason == cl.Incompatible {
		return false, nil
	}
	if reason != "" && cl.Incompatible == "" {
		err := emit(fmt.Sprintf("The engine cannot start with the parameters of cache parameter group %s (%s). "+
			"Change them to values the engine accepts; the cluster starts as soon as they are.", cl.ParameterGroup, reason))
		if err != nil {
			return false, err
		}
	}
	cl.Incompatible = reason
	return true, nil
}

// engineReason is the engine's own account of why it refused to start (its configuration, or the dataset
// it was seeded with).
func engineReason(err error) string {
	if ce, ok := errors.AsType[*driver.Refusal](err); ok {
		return ce.Reason
	}
	return err.Error()
}

// settled reports whether every node is available and nothing is left to do.
func settled(cl *resource.Cluster) bool {
	for _, n := range cl.Nodes {
		if n.Status != resource.NodeAvailable || n.Reboot || n.Remove {
			return false
		}
	}
	return len(cl.Nodes) > 0
}
