package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// clusterNodesSummary counts the nodes a cluster reports: primaries, replicas and failed ones.
func clusterNodesSummary(rdb *redis.ClusterClient) (primaries, replicas, failed int, text string, err error) {
	text, err = rdb.ClusterNodes(context.Background()).Result()
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch {
		case strings.Contains(f[2], "fail"):
			failed++
		case strings.Contains(f[2], "master"):
			primaries++
		case strings.Contains(f[2], "slave"):
			replicas++
		}
	}
	return primaries, replicas, failed, text, err
}

// TestClusterModeReplicaScaling adds a replica to every shard of a cluster mode group and then takes
// replicas away per shard (by count and by name), with a client writing throughout: the new replicas hold
// their shard's data, the removed ones leave the cluster and their engines stop, no key is lost.
func TestClusterModeReplicaScaling(t *testing.T) {
	srv, c, g := startShardedGroup(t, "valkey", "rs", 2, 1)
	ctx := ctxT(t)
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	writeClusterKeys(t, rdb, "k", 2000)
	w := startClusterWriter(rdb, "w")

	// One more replica in every shard.
	inc, err := c.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("rs"), NewReplicaCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("IncreaseReplicaCount: %v", err)
	}
	if got := inc.ReplicationGroup.MemberClusters; aws.ToString(inc.ReplicationGroup.Status) != "modifying" || len(got) != 6 || !contains(got, "rs-0001-003") || !contains(got, "rs-0002-003") {
		t.Errorf("increase response: status %s, members %v", aws.ToString(inc.ReplicationGroup.Status), got)
	}
	waitGroupAvailable(t, c, "rs")
	p, r, f, text, err := clusterNodesSummary(rdb)
	if err != nil || p != 2 || r != 4 || f != 0 {
		t.Fatalf("after the increase: %d primaries, %d replicas, %d failed, %v\n%s", p, r, f, err, text)
	}
	for _, id := range []string{"rs-0001-003", "rs-0002-003"} {
		node := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, id).CacheNodes[0].Endpoint)})
		info, err := node.Info(ctx, "replication").Result()
		n, derr := node.DBSize(ctx).Result()
		node.Close()
		if err != nil || derr != nil || !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_link_status:up") || n < 900 {
			t.Errorf("new replica %s: %d keys (%v, %v)\n%s", id, n, err, derr, info)
		}
	}

	// Shard 0001 down to no replica (the highest-numbered go), shard 0002 down to one by naming its first
	// replica.
	dec, err := c.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("rs"), ApplyImmediately: aws.Bool(true),
		ReplicaConfiguration: []types.ConfigureShard{
			{NodeGroupId: aws.String("0001"), NewReplicaCount: aws.Int32(0)},
			{NodeGroupId: aws.String("0002"), NewReplicaCount: aws.Int32(1)},
		},
		ReplicasToRemove: []string{"rs-0002-002"},
	})
	if err != nil {
		t.Fatalf("DecreaseReplicaCount: %v", err)
	}
	if got := dec.ReplicationGroup.MemberClusters; len(got) != 3 || !contains(got, "rs-0002-003") || contains(got, "rs-0002-002") {
		t.Errorf("decrease response: members %v", got)
	}
	waitGroupAvailable(t, c, "rs")
	p, r, f, text, err = clusterNodesSummary(rdb)
	if err != nil || p != 2 || r != 1 || f != 0 {
		t.Errorf("after the decrease: %d primaries, %d replicas, %d failed, %v\n%s", p, r, f, err, text)
	}
	eventually(t, 30*time.Second, "removed members deleted", func() error {
		out, err := c.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{})
		if err != nil {
			return err
		}
		if len(out.CacheClusters) != 3 {
			return fmt.Errorf("%d member clusters, want 3", len(out.CacheClusters))
		}
		if pids := enginePIDs(srv.dataDir); len(pids) != 3 {
			return fmt.Errorf("%d engines running, want 3: %v", len(pids), pids)
		}
		return nil
	})
	fresh := clusterClient(addr(g.ConfigurationEndpoint))
	defer fresh.Close()
	w.stop(t, fresh)
	if err := checkClusterKeys(fresh, "k", 2000); err != nil {
		t.Error(err)
	}
	deleteGroup(t, c, "rs")
}

// TestKillEcacheWithShardPrimary kills a shard's primary engine and ecache together: after ecache restarts,
// the shard fails over, every key acknowledged by the replicas is still there, and the group heals.
func TestKillEcacheWithShardPrimary(t *testing.T) {
	srv, c, g := startShardedGroup(t, "valkey", "crashc", 2, 1)
	ctx := ctxT(t)
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	writeClusterKeys(t, rdb, "k", 1000)
	if err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		if n, err := node.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
			return fmt.Errorf("WAIT 1 on %s = %d, %v", node.Options().Addr, n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	victim := primaryOfSlot(t, c, rdb, 0)
	pid := engineOf(t, srv, victim)
	srv.kill()
	killPID(t, pid)
	srv.start()
	c = srv.client("us-east-1")
	fresh := clusterClient(addr(g.ConfigurationEndpoint))
	defer fresh.Close()
	eventually(t, 30*time.Second, "slot 0 served by the replica", func() error {
		fresh.ReloadState(context.Background())
		p, err := slotOwner(t, c, fresh, 0)
		if err != nil {
			return err
		}
		if p == victim {
			return fmt.Errorf("%s still serves slot 0", p)
		}
		return fresh.Set(context.Background(), "after", "1", 0).Err()
	})
	if err := checkClusterKeys(fresh, "k", 1000); err != nil {
		t.Fatalf("acknowledged data lost: %v", err)
	}
	eventually(t, 30*time.Second, "the group healed", func() error {
		if s := aws.ToString(describeGroup(t, c, "crashc").Status); s != "available" {
			return fmt.Errorf("status %s", s)
		}
		p, r, f, text, err := clusterNodesSummary(fresh)
		if err != nil || p != 2 || r != 2 || f != 0 {
			return fmt.Errorf("%d primaries, %d replicas, %d failed, %v\n%s", p, r, f, err, text)
		}
		return nil
	})
}

// TestClusterModeDamagedNodesConf: a replica whose nodes.conf was damaged (cut short, as a kill in the middle
// of writing it leaves it) cannot start; it starts afresh, rejoins its shard, and the cluster forgets its
// old identity.
func TestClusterModeDamagedNodesConf(t *testing.T) {
	srv, c, g := startShardedGroup(t, "valkey", "nc", 2, 1)
	rdb := clusterClient(addr(g.ConfigurationEndpoint))
	defer rdb.Close()
	writeClusterKeys(t, rdb, "k", 1000)
	confs, _ := filepath.Glob(filepath.Join(srv.dataDir, "nodes", "nc-0001-002-*", "nodes.conf"))
	if len(confs) != 1 {
		t.Fatalf("nodes.conf of nc-0001-002: %v", confs)
	}
	b, err := os.ReadFile(confs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(confs[0], b[:len(b)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	replica := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "nc-0001-002").CacheNodes[0].Endpoint)})
	defer replica.Close()
	oldID, err := replica.Do(ctxT(t), "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	killPID(t, engineOf(t, srv, "nc-0001-002"))
	eventually(t, 60*time.Second, "the replica back in its shard under a new identity", func() error {
		p, r, f, text, err := clusterNodesSummary(rdb)
		if err != nil || p != 2 || r != 2 || f != 0 || strings.Contains(text, oldID) {
			return fmt.Errorf("%d primaries, %d replicas, %d failed, %v (old id %s)\n%s", p, r, f, err, oldID, text)
		}
		if id, err := replica.Do(context.Background(), "CLUSTER", "MYID").Text(); err != nil || id == oldID {
			return fmt.Errorf("replica id %s, %v", id, err)
		}
		if s := aws.ToString(describeGroup(t, c, "nc").Status); s != "available" {
			return fmt.Errorf("status %s", s)
		}
		return nil
	})
	if !strings.Contains(srv.logs(), "starting it afresh") {
		t.Error("the damaged nodes.conf was not noticed: the test did not damage what it meant to")
	}
	if err := checkClusterKeys(rdb, "k", 1000); err != nil {
		t.Error(err)
	}
}
