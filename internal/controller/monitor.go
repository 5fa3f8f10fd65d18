package controller

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resource"
)

const (
	monitorInterval = 200 * time.Millisecond
	pingTimeout     = 300 * time.Millisecond
	// maxMissedPings is how many pings in a row a primary may miss before it counts as hung: with the
	// ping timeout, about a second and a half of silence.
	maxMissedPings = 3
)

// monitor watches the primaries of replication groups with automatic failover. A dead engine is reported
// by the driver at once; a hung one (alive but not answering) is noticed here and killed, so that the
// group's reconciler promotes a replica exactly as for a crash.
func (c *Controller) monitor(ctx context.Context) {
	missed := map[string]int{}
	t := time.NewTicker(monitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		objs, err := c.store.List(ctx, resource.KindReplicationGroup)
		if err != nil {
			continue
		}
		for _, o := range objs {
			g, err := resource.Unmarshal[resource.ReplicationGroup](o.Value)
			if err != nil || !g.AutomaticFailover || (g.Status != resource.StatusAvailable && g.Status != resource.StatusModifying) {
				delete(missed, o.Key)
				continue
			}
			if c.primaryAnswers(ctx, g) {
				delete(missed, o.Key)
				continue
			}
			if missed[o.Key]++; missed[o.Key] >= maxMissedPings {
				delete(missed, o.Key)
				c.killHungPrimary(ctx, g)
			}
		}
	}
}

// primaryAnswers pings the group's primary engine; any reply (even an AUTH error) means it is alive.
// A primary that is not running counts as answering: the driver already reported it.
func (c *Controller) primaryAnswers(ctx context.Context, g *resource.ReplicationGroup) bool {
	cl := c.primaryCluster(ctx, g)
	if cl == nil || len(cl.Nodes) == 0 {
		return true
	}
	st, err := c.driver.Peek(ctx, cl.DriverID(cl.Nodes[0].ID))
	if err != nil || st.State != driver.StateRunning {
		return true
	}
	addr := net.JoinHostPort(c.cfg.NodeHost, strconv.Itoa(cl.Nodes[0].Port))
	conn, err := net.DialTimeout("tcp", addr, pingTimeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(pingTimeout))
	var rw net.Conn = conn
	if g.TransitEncryption {
		_, client, err := c.tlsConfigs()
		if err != nil {
			return true
		}
		tc := tls.Client(conn, client)
		if tc.HandshakeContext(ctx) != nil {
			return false
		}
		rw = tc
	}
	if _, err := rw.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	_, err = bufio.NewReader(rw).ReadString('\n')
	return err == nil
}

func (c *Controller) primaryCluster(ctx context.Context, g *resource.ReplicationGroup) *resource.Cluster {
	if len(g.NodeGroups) == 0 {
		return nil
	}
	id := g.NodeGroups[0].Primary()
	obj, err := c.store.Get(ctx, resource.KindCluster, resource.Key(g.Region, id))
	if err != nil {
		return nil
	}
	cl, err := resource.Unmarshal[resource.Cluster](obj.Value)
	if err != nil {
		return nil
	}
	return cl
}

// killHungPrimary ends a primary engine that stopped answering; the driver then reports its exit.
func (c *Controller) killHungPrimary(ctx context.Context, g *resource.ReplicationGroup) {
	cl := c.primaryCluster(ctx, g)
	if cl == nil {
		return
	}
	st, err := c.driver.Peek(ctx, cl.DriverID(cl.Nodes[0].ID))
	if err != nil || st.PID == 0 {
		return
	}
	c.logger.Warn("primary engine is not answering; killing it to fail over", "group", g.ID, "cluster", cl.ID, "pid", st.PID)
	_ = syscall.Kill(st.PID, syscall.SIGKILL)
}
