package controller

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/store"
)

// putShardedGroup writes a cluster mode enabled group of two shards with a replica each (members g-000N-00M
// on ports 29001..29004), as the service writes one, and waits until the controller formed it.
func (h *harness) putShardedGroup(t *testing.T) {
	t.Helper()
	h.clock.ticking()
	g := &resource.ReplicationGroup{Region: "us-east-1", ID: "g", UID: "ug", Status: resource.StatusCreating, Engine: "redis",
		EngineVersion: "7.0", NodeType: "cache.t3.micro", AutomaticFailover: true, MultiAZ: true, ClusterMode: "enabled",
		ClusterEnabled: true, ConfigPort: 29052, ParameterGroup: "default.redis7.cluster.on", MaintenanceWindow: "thu:03:00-thu:04:00"}
	port := 29000
	err := h.st.Update(context.Background(), func(tx store.Tx) error {
		for i, slots := range []string{"0-8191", "8192-16383"} {
			ng := resource.NodeGroup{ID: fmt.Sprintf("%04d", i+1), Status: resource.StatusCreating, Slots: slots}
			for m := 1; m <= 2; m++ {
				port++
				cl := newRedis(fmt.Sprintf("g-%s-%03d", ng.ID, m), port)
				cl.ReplicationGroupID, cl.ClusterMode, cl.ParameterGroup = "g", true, g.ParameterGroup
				role := resource.RoleReplica
				if m == 1 {
					role = resource.RolePrimary
				}
				ng.Members = append(ng.Members, resource.Member{ClusterID: cl.ID, Role: role})
				if _, err := tx.Put(resource.KindCluster, resource.Key(cl.Region, cl.ID), resource.Marshal(cl), store.AnyRevision); err != nil {
					return err
				}
			}
			g.NodeGroups = append(g.NodeGroups, ng)
		}
		_, err := tx.Put(resource.KindReplicationGroup, resource.Key(g.Region, g.ID), resource.Marshal(g), store.AnyRevision)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitGroup(t, "formed and available", func(g *resource.ReplicationGroup) bool { return g.Formed && g.Status == resource.StatusAvailable })
}

// TestReshardResumesAfterARestart: ecache is killed in the middle of an online resharding, between two
// chunks of slots; the next ecache reads where the engines are and finishes the plan, moving every slot
// exactly once.
func TestReshardResumesAfterARestart(t *testing.T) {
	h := start(t)
	h.putShardedGroup(t)
	var moves atomic.Int32
	h.eng.moving = func(hashslot.Range) {
		if moves.Add(1) == 3 {
			go h.stop() // ecache dies while the third chunk moves
		}
	}
	err := resource.Edit(context.Background(), h.st, resource.KindReplicationGroup, resource.Key("us-east-1", "g"),
		func(_ store.Tx, g *resource.ReplicationGroup, _ int64) (bool, error) {
			g.Status = resource.StatusModifying
			g.Resharding = &resource.Resharding{Target: map[string]string{"0001": "0-4095", "0002": "4096-16383"},
				TotalSlots: 4096, StartedAt: h.clock.Now()}
			return true, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller stopped mid-resharding", func() error {
		if n := moves.Load(); n < 3 {
			return fmt.Errorf("%d chunks moved", n)
		}
		return nil
	})
	h.stop()
	if g := h.group(t); g.Resharding == nil {
		t.Fatal("the resharding finished before the restart; the test did not cut it short")
	}
	h.eng.moving = nil
	h.run(t)
	g := h.waitGroup(t, "resharded", func(g *resource.ReplicationGroup) bool {
		return g.Resharding == nil && g.Status == resource.StatusAvailable
	})
	if got := []string{g.NodeGroups[0].Slots, g.NodeGroups[1].Slots}; !slices.Equal(got, []string{"0-4095", "4096-16383"}) {
		t.Errorf("slots after the resharding = %v, want [0-4095 4096-16383]", got)
	}
	states, _ := h.eng.ClusterInspect(context.Background(), respNode(memberAddr(1)))
	if len(states) != 2 || hashslot.Format(states[0].Slots) != "0-4095" || hashslot.Format(states[1].Slots) != "4096-16383" {
		t.Errorf("engines' slots = %+v", states)
	}
	h.eng.mu.Lock()
	moved := h.eng.moved
	h.eng.mu.Unlock()
	if moved != 4096 {
		t.Errorf("slots moved = %d, want 4096: each slot once", moved)
	}
	if !slices.Contains(h.events(t), "Completed online resharding of replication group g: 2 node groups") {
		t.Errorf("events = %q, want the completion event", h.events(t))
	}
}

func respNode(addr string) resp.Node { return resp.Node{Addr: addr} }
