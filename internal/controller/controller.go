// Package controller holds ecache's level-triggered reconcilers: they read the desired state that
// internal/service writes to the store, drive engines through internal/driver until the world matches,
// and write the observed status and events back. Every reconcile is idempotent, so ecache can be killed
// at any point and resume on start. Imported by internal/app only.
//
// controller.go wires it: the store watch and the driver's exits feed the manager (manager.go: queue,
// workers, retries with backoff), which hands each key to the reconciler of its kind (clusters.go,
// replicationgroups.go with shards.go for cluster mode, snapshots.go); failover.go is the one failover of
// both cluster modes, listeners.go the one owner of endpoint listeners, monitor.go the health monitor and
// schedule.go the scheduled work.
package controller

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/atrest"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/sigv4"
	"github.com/ecache/ecache/internal/store"
)

// Config tunes the controller.
type Config struct {
	NodeHost string // address engines and endpoints listen on
	// NodeHostIPv6 is the address of the nodes and endpoints of clusters with IpDiscovery ipv6 (default ::1).
	NodeHostIPv6 string
	Workers      int           // reconciles of one kind running at once (default 4); each kind has its own
	Resync       time.Duration // every key is reconciled at least this often (default 5s)
	Now          func() time.Time
	// Ports is the node port range, for scale-outs applied in the maintenance window.
	Ports resource.Ports
	// TLS are the files that nodes with in-transit encryption serve.
	TLS *driver.TLSFiles
	// AtRest are the keys that seal the files of cache data written for resources with at-rest encryption
	// (snapshots, restore downloads); nil: they are written in plain.
	AtRest atrest.Keys
	// SnapshotDir holds the snapshots' RDB files, a directory per snapshot, and files downloaded for
	// restores from the object store (imports/).
	SnapshotDir string
	// Objects is the S3-compatible object store snapshots are exported to and restored from; nil when none
	// is configured.
	Objects *objectstore.Store
	// DurableDir holds the checkpoints of durable shards (their datasets at a log offset), a directory per
	// shard.
	DurableDir string
	// Executable is the ecache executable that runs log replicas (`ecache txlog-replica`); empty: this
	// process's own.
	Executable string
	// IAM checks the IAM authentication tokens clients of durable nodes give (the API's own verifier:
	// tokens are signed with ecache's key pair); nil: IAM users cannot authenticate.
	IAM *sigv4.Verifier
	// Jobs are scheduled work the controller runs beside its own (resync, orphan removal, event pruning),
	// on its clock: the service's automatic snapshots.
	Jobs []Job
}

// Controller converges cache clusters, replication groups and snapshots on the engines (see the package doc).
type Controller struct {
	store  store.Store
	driver driver.Driver
	// engines talks to the engines the driver runs.
	engines driver.Engines
	host    engine.Host
	cfg     Config
	logger  *slog.Logger
	// mgr runs the reconcilers; New registers the cluster, replication group and snapshot reconcilers.
	mgr *manager
	// listeners owns the stable endpoints of groups and Memcached clusters.
	listeners *listeners
	// durables are the runtimes of durable shards (relay, shipper) and their log replicas.
	durables durableShards

	tlsOnce              sync.Once
	tlsServer, tlsClient *tls.Config
	tlsErr               error
	// certMu serialises the issuing of node certificates (nodeTLS).
	certMu sync.Mutex

	mu      sync.Mutex
	owners  map[string]string // driver node id -> cluster store key
	groupOf map[string]string // cluster store key -> replication group store key
}

// nodeHost is the address the nodes and endpoints of a cluster or group with ipDiscovery are reached at.
func (c *Controller) nodeHost(ipDiscovery string) string {
	return resource.Hosts{IPv4: c.cfg.NodeHost, IPv6: c.cfg.NodeHostIPv6}.For(ipDiscovery)
}

// New returns a controller; Run starts it.
func New(st store.Store, d driver.Driver, eng driver.Engines, host engine.Host, cfg Config, logger *slog.Logger) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NodeHostIPv6 == "" {
		cfg.NodeHostIPv6 = "::1"
	}
	if cfg.Executable == "" {
		cfg.Executable, _ = os.Executable() // left empty when unknown: durable groups then report it
	}
	c := &Controller{store: st, driver: d, engines: eng, host: host, cfg: cfg, logger: logger, mgr: newManager(logger),
		listeners: newListeners(logger), owners: map[string]string{}, groupOf: map[string]string{}}
	c.mgr.register(resource.KindCluster, soon(c.reconcileCluster))
	c.mgr.register(resource.KindReplicationGroup, soon(c.reconcileReplicationGroup))
	c.mgr.register(resource.KindSnapshot, soon(c.reconcileSnapshot))
	c.mgr.register(resource.KindUser, soon(c.reconcileUser))
	c.mgr.register(resource.KindUserGroup, soon(c.reconcileUserGroup))
	return c
}

// Run reconciles until ctx ends; it then closes the configuration endpoints (engines keep running).
func (c *Controller) Run(ctx context.Context) error {
	events := c.store.Watch(ctx)
	if err := c.collectGarbage(ctx); err != nil {
		c.logger.Error("removing orphaned engines", "err", err)
	}
	c.enqueueAll(ctx)
	c.mgr.start(ctx, c.cfg.Workers)
	var wg sync.WaitGroup
	wg.Go(func() { c.monitor(ctx) })
	wg.Go(func() { c.schedule(ctx, min(c.cfg.Resync, time.Second)) })
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			switch {
			case ev.Type == store.Resync:
				c.enqueueAll(ctx)
			case ev.Object.Kind == resource.KindCluster:
				c.mgr.enqueue(resource.KindCluster, ev.Object.Key)
				if cl, err := resource.Unmarshal[resource.Cluster](ev.Object.Value); err == nil && cl.ReplicationGroupID != "" {
					c.mgr.enqueue(resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
				}
			case ev.Object.Kind == resource.KindReplicationGroup:
				c.mgr.enqueue(resource.KindReplicationGroup, ev.Object.Key)
			case ev.Object.Kind == resource.KindSnapshot:
				c.mgr.enqueue(resource.KindSnapshot, ev.Object.Key)
			case ev.Object.Kind == resource.KindParameterGroup:
				c.enqueueAll(ctx)
			case ev.Object.Kind == resource.KindUser || ev.Object.Kind == resource.KindUserGroup:
				// The nodes of every group using the users take the change.
				c.mgr.enqueue(ev.Object.Kind, ev.Object.Key)
				c.enqueueAll(ctx)
			}
		case id := <-c.driver.Exits():
			if group := c.logOwner(id); group != "" {
				c.logger.Warn("log replica exited unexpectedly", "replica", id)
				c.mgr.enqueue(resource.KindReplicationGroup, group) // it restarts
				continue
			}
			c.mu.Lock()
			key, group := c.owners[id], c.groupOf[c.owners[id]]
			c.mu.Unlock()
			c.logger.Warn("engine exited unexpectedly", "node", id)
			if group != "" {
				c.mgr.enqueue(resource.KindReplicationGroup, group) // a failover must come before the node restarts
			}
			if key != "" {
				c.mgr.enqueue(resource.KindCluster, key)
			}
		}
	}
	c.mgr.stop()
	wg.Wait()
	c.listeners.closeAll()
	c.closeDurables()
	return nil
}

// enqueueAll queues every cluster, replication group and snapshot: the level-triggered sweep.
func (c *Controller) enqueueAll(ctx context.Context) {
	for _, kind := range []string{resource.KindCluster, resource.KindReplicationGroup, resource.KindSnapshot, resource.KindUser, resource.KindUserGroup} {
		objs, err := c.store.List(ctx, kind)
		if err != nil {
			c.logger.Error("listing resources", "kind", kind, "err", err)
			return
		}
		for _, o := range objs {
			c.mgr.enqueue(kind, o.Key)
		}
	}
}

// collectGarbage removes engines whose cluster no longer exists (deleted while ecache was down,
// or created by a transaction that never committed).
func (c *Controller) collectGarbage(ctx context.Context) error {
	// Read before the clusters: a restore's download only starts once its cluster is stored.
	imports, err := c.importDirs()
	if err != nil {
		return err
	}
	objs, err := c.store.List(ctx, resource.KindCluster)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var clusters []*resource.Cluster
	for _, o := range objs {
		cl, err := resource.Unmarshal[resource.Cluster](o.Value)
		if err != nil {
			return err
		}
		clusters = append(clusters, cl)
		for _, n := range cl.Nodes {
			want[cl.DriverID(n.ID)] = true
		}
	}
	if err := c.removeFinishedImports(imports, clusters); err != nil {
		return err
	}
	gobjs, err := c.store.List(ctx, resource.KindReplicationGroup)
	if err != nil {
		return err
	}
	var groups []*resource.ReplicationGroup
	for _, o := range gobjs {
		g, err := resource.Unmarshal[resource.ReplicationGroup](o.Value)
		if err != nil {
			return err
		}
		groups = append(groups, g)
	}
	for _, id := range logDriverIDs(groups) {
		want[id] = true
	}
	if c.cfg.DurableDir != "" {
		if err := c.sweepCheckpoints(groups); err != nil {
			return err
		}
	}
	nodes, err := c.driver.List(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !want[n.ID] {
			c.logger.Info("removing orphaned engine", "node", n.ID, "pid", n.PID)
			if err := c.driver.Remove(ctx, n.ID); err != nil {
				return fmt.Errorf("remove orphan %s: %w", n.ID, err)
			}
		}
	}
	return nil
}
