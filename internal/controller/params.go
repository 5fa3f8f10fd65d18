package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// clusterNodeTimeout is the engines' cluster-node-timeout in cluster mode, in milliseconds.
const clusterNodeTimeout = 5000

// maxEngineConnections caps maxclients: this host's open-file limit is far below ElastiCache's 65000.
const maxEngineConnections = 10000

// groupValues returns the parameter values a cluster's group sets (nil for default groups).
func (c *Controller) groupValues(ctx context.Context, cl *resource.Cluster) (map[string]string, error) {
	obj, err := c.store.Get(ctx, resource.KindParameterGroup, resource.Key(cl.Region, cl.ParameterGroup))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // a default group
	} else if err != nil {
		return nil, err
	}
	pg, err := resource.Unmarshal[resource.ParameterGroup](obj.Value)
	if err != nil {
		return nil, err
	}
	return pg.Values, nil
}

// staticValues keeps the values of parameters that only take effect when a node restarts: all of them
// for Memcached, which cannot change its settings while it runs.
func staticValues(family string, values map[string]string) map[string]string {
	out := map[string]string{}
	memcached := strings.HasPrefix(family, "memcached")
	for name, v := range values {
		if p, ok := engine.LookupParameter(family, name); ok && (memcached || p.ChangeType != "immediate") {
			out[name] = v
		}
	}
	return out
}

// effectiveValues is what a node runs with: the group's immediate parameters, and the requires-reboot
// parameters as they were when the node last started.
func effectiveValues(family string, group, startedWith map[string]string) map[string]string {
	out := map[string]string{}
	for name, v := range group {
		if p, ok := engine.LookupParameter(family, name); ok && p.ChangeType == "immediate" && !strings.HasPrefix(family, "memcached") {
			out[name] = v
		}
	}
	maps.Copy(out, startedWith)
	return out
}

// nodeSpec turns a cluster's node type, engine and parameter values into the engine process a node runs.
func nodeSpec(cl *resource.Cluster, n resource.Node, v engine.Version, values map[string]string, tls *driver.TLSFiles) (driver.NodeSpec, error) {
	nt, ok := engine.NodeType(cl.NodeType)
	if !ok {
		return driver.NodeSpec{}, fmt.Errorf("unknown node type %s", cl.NodeType)
	}
	spec := driver.NodeSpec{
		ID: cl.DriverID(n.ID), Engine: driver.Engine(cl.Engine), Binary: v.Binary, Port: n.Port,
		MaxMemoryBytes: engine.MemoryLimit(cl.NodeType, cl.Engine, 25), Bind: resource.LoopbackBind(cl.NetworkType),
	}
	if n.Address != "" {
		spec.Bind = []string{n.Address}
	}
	if cl.TransitEncryption {
		spec.TLS = tls
		spec.Password, spec.SecondPassword = cl.AuthToken, cl.PreviousAuthToken
	}
	if cl.Fronted() && len(n.EnginePorts) == 2 {
		// ecache listens on the node's port (both kinds of client, or the durable endpoint): the engine
		// listens on its own two ports behind it.
		spec.PlainPort, spec.Port = n.EnginePorts[0], n.EnginePorts[1]
	}
	if cl.Engine == engine.EngineMemcached {
		spec.Threads = nt.VCPU
		args, err := engine.MemcachedArgs(engine.NodeConfig{
			Family: v.Family, NodeType: cl.NodeType, EngineVersion: v.BinaryVersion, Values: values, MaxConnections: maxEngineConnections,
		})
		if err != nil {
			return driver.NodeSpec{}, fmt.Errorf("engine settings of %s: %w", cl.ID, err)
		}
		spec.Args = args
		return spec, nil
	}
	settings, err := engine.RedisSettings(engine.NodeConfig{
		Family: v.Family, NodeType: cl.NodeType, EngineVersion: v.BinaryVersion, Values: values, MaxConnections: maxEngineConnections,
	})
	if err != nil {
		return driver.NodeSpec{}, fmt.Errorf("engine settings of %s: %w", cl.ID, err)
	}
	// Replicas start their first full sync at once instead of the engines' default 5-second wait
	// (ElastiCache has no parameter for it).
	spec.Config = map[string]string{"repl-diskless-sync-delay": "0"}
	for _, s := range settings {
		switch s.Directive {
		case "cluster-enabled":
			// Set from the cluster's mode below: the default groups carry no values.
		case "maxmemory":
			fmt.Sscan(s.Args[0], &spec.MaxMemoryBytes)
		case "rename-command":
			// rename-command only exists in the config file and may repeat; ElastiCache's rename-commands
			// parameter is not applied to engines yet.
		case "client-output-buffer-limit":
			// Every class goes on one line, which both the config file and CONFIG SET accept.
			args := strings.TrimPrefix(s.ConfLine(), s.Directive+" ")
			if prev := spec.Config[s.Directive]; prev != "" {
				args = prev + " " + args
			}
			spec.Config[s.Directive] = args
		default:
			spec.Config[s.Directive] = strings.TrimPrefix(s.ConfLine(), s.Directive+" ")
		}
	}
	if cl.ClusterMode {
		spec.Config["cluster-enabled"] = "yes"
		spec.Config["cluster-port"] = strconv.Itoa(n.BusPort)
		// A shard drained by a scale-in stays a primary without slots until it is removed, instead of
		// joining another shard as a replica.
		spec.Config["cluster-allow-replica-migration"] = "no"
		// Nodes ping every peer at least every half node timeout, and that pace bounds how fast a new node's
		// role reaches the others when a shard is added. ecache finds failed nodes itself within a second,
		// so the engines' own failure detection need not wait the default 15 s either.
		spec.Config["cluster-node-timeout"] = strconv.Itoa(clusterNodeTimeout)
		if spec.PlainPort != 0 {
			// Nodes announce the node's port, ecache's listener: clients redirected by the cluster, and
			// replicas following a primary, come there. The bus of a node taking both kinds of client
			// stays plain.
			spec.Config["cluster-announce-port"] = strconv.Itoa(n.Port)
			spec.Config["cluster-announce-tls-port"] = strconv.Itoa(n.Port)
			if cl.Durable {
				spec.Config["tls-cluster"] = "yes"
			}
		} else if cl.TransitEncryption {
			spec.Config["tls-cluster"] = "yes" // the cluster bus speaks TLS and nodes announce their TLS port
		}
		if n.Address != "" {
			// CLUSTER SLOTS and SHARDS name the node's own address, as the group's members show it.
			spec.Config["cluster-announce-ip"] = n.Address
		}
		if cl.NetworkType == resource.NetworkDualStack {
			// The one address per node that CLUSTER SLOTS and SHARDS report is of the discovery family; a
			// change of IpDiscovery reaches running engines with CONFIG SET.
			spec.Config["cluster-announce-ip"] = resource.LoopbackFor(cl.IPDiscovery)
		}
	}
	if cl.Durable {
		// A replica reaches its primary's durable endpoint, which takes TLS only, and is fed there by the
		// shard's log; only ecache promotes a replica, once it has applied the whole log.
		spec.Config["tls-replication"] = "yes"
		spec.Config["cluster-replica-no-failover"] = "yes"
	}
	return spec, nil
}
