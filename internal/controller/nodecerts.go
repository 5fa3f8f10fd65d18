package controller

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ecache/ecache/internal/certs"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// nodeTLS is the certificate a node with in-transit encryption presents. A node at an address of its own
// has one of its own, signed by ecache's CA, so that clients check the address they dialled: it names that
// address, the node host (where ecache's endpoints forward from, and the name ecache checks) and its group's
// primary endpoint address, which the primary's engine takes on. Other nodes share ecache's certificate.
func (c *Controller) nodeTLS(ctx context.Context, cl *resource.Cluster, n resource.Node) (*driver.TLSFiles, error) {
	shared := c.cfg.TLS
	if shared == nil || !cl.TransitEncryption || n.Address == "" {
		return shared, nil
	}
	hosts := []string{n.Address, c.cfg.NodeHost, "localhost"}
	if cl.ReplicationGroupID != "" {
		g, _, err := resource.Load[resource.ReplicationGroup](ctx, c.store, resource.KindReplicationGroup, resource.Key(cl.Region, cl.ReplicationGroupID))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && g.PrimaryAddress != "" {
			hosts = append(hosts, g.PrimaryAddress)
		}
	}
	c.certMu.Lock() // the cluster and group reconcilers may start the same node at once
	f, err := certs.Issue(filepath.Dir(shared.CAFile), c.nodeCertDir(cl.DriverID(n.ID)), hosts, c.cfg.Now())
	c.certMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("certificate of node %s: %w", cl.DriverID(n.ID), err)
	}
	return &driver.TLSFiles{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}, nil
}

// nodeCertDir is where the certificate of the node with driver id is kept, beside ecache's own.
func (c *Controller) nodeCertDir(id string) string {
	return filepath.Join(filepath.Dir(c.cfg.TLS.CAFile), "nodes", id)
}

// forgetNodeCert removes the certificate of a node that is gone, if it had one.
func (c *Controller) forgetNodeCert(id string) {
	if c.cfg.TLS == nil {
		return
	}
	c.certMu.Lock()
	defer c.certMu.Unlock()
	if err := certs.Forget(c.nodeCertDir(id)); err != nil {
		c.logger.Warn("removing a node certificate", "node", id, "err", err)
	}
}
