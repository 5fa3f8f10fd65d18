package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/awsquery"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// newStoreService is a Service over a fresh bolt store that offers Redis OSS 7.0.
func newStoreService(t testing.TB) (*Service, store.Store) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	host := engine.NewHost(engine.Binary{Engine: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"})
	s := New(st, host, Config{AccountID: "123456789012", NodeHost: "127.0.0.1", PortLow: 40000, PortHigh: 40999, Quotas: DefaultQuotas()},
		time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return s, st
}

// freshXML renders m's members without any XML kept from an earlier render.
func freshXML(m awsquery.Marshaler) []byte {
	var w awsquery.XMLWriter
	m.MarshalQueryXML(&w)
	return w.Bytes()
}

// setNodePort stores port as the first node's port of cluster id, as the controller does once it runs.
func setNodePort(t *testing.T, st store.Store, id string, port int) {
	t.Helper()
	err := resource.Edit(context.Background(), st, resource.KindCluster, resource.Key("us-east-1", id), func(_ store.Tx, c *resource.Cluster, _ int64) (bool, error) {
		c.Nodes[0].Port, c.Nodes[0].Status = port, "available"
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDescribeShowsEveryCommittedChange checks the answers rendered once per revision: the XML kept with
// each item is what rendering it afresh writes, and a change to a cluster, or to a member of a group,
// shows in the next answer.
func TestDescribeShowsEveryCommittedChange(t *testing.T) {
	s, st := newStoreService(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.CreateCacheCluster(ctx, &api.CreateCacheClusterMessage{CacheClusterId: ptr(fmt.Sprintf("c%d", i)),
			Engine: ptr("redis"), CacheNodeType: ptr("cache.t3.micro")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateReplicationGroup(ctx, &api.CreateReplicationGroupMessage{ReplicationGroupId: ptr("g"),
		ReplicationGroupDescription: ptr("g"), Engine: ptr("redis"), CacheNodeType: ptr("cache.t3.micro"), NumCacheClusters: ptr(int32(2))}); err != nil {
		t.Fatal(err)
	}
	describe := func() []api.CacheCluster {
		out, err := s.DescribeCacheClusters(ctx, &api.DescribeCacheClustersMessage{ShowCacheNodeInfo: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.CacheClusters
	}
	clusters := describe()
	if len(clusters) != 5 {
		t.Fatalf("%d clusters, want 5", len(clusters))
	}
	for _, cc := range clusters {
		kept := cc.Rendered
		cc.Rendered = awsquery.Rendered{}
		var w awsquery.XMLWriter
		if !w.WriteRendered(kept) || !bytes.Equal(w.Bytes(), freshXML(&cc)) {
			t.Errorf("%s: the kept XML differs from a fresh render:\n%s\n%s", *cc.CacheClusterId, w.Bytes(), freshXML(&cc))
		}
		if *cc.CacheClusterId == "g-002" && (len(cc.CacheNodes) != 1 || deref(cc.CacheNodes[0].SourceCacheNodeId) != "0001") {
			t.Errorf("replica g-002 does not name its source node: %+v", cc.CacheNodes)
		}
	}

	setNodePort(t, st, "c1", 40123)
	for _, cc := range describe() {
		if *cc.CacheClusterId == "c1" {
			if len(cc.CacheNodes) != 1 || cc.CacheNodes[0].Endpoint == nil || *cc.CacheNodes[0].Endpoint.Port != 40123 ||
				!bytes.Contains(freshXML(&cc), []byte("<Port>40123</Port>")) {
				t.Errorf("c1 after its node started: %s", freshXML(&cc))
			}
		}
	}

	groupXML := func() []byte {
		out, err := s.DescribeReplicationGroups(ctx, &api.DescribeReplicationGroupsMessage{})
		if err != nil || len(out.ReplicationGroups) != 1 {
			t.Fatalf("DescribeReplicationGroups: %v", err)
		}
		return freshXML(&out.ReplicationGroups[0])
	}
	before := groupXML()
	setNodePort(t, st, "g-002", 40124)
	if after := groupXML(); bytes.Equal(before, after) || !bytes.Contains(after, []byte("<Port>40124</Port>")) {
		t.Errorf("the group does not show its member's new endpoint:\n%s", after)
	}
}
