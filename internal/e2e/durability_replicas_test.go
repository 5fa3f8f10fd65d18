package e2e

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// TestDurableReplicaScaling adds a replica to a sync group's shard and takes it away again: the new replica
// is fed by the shard's log (through the relay) and holds the shard's data, a failover afterwards loses no
// key, and the group may not go below one replica per shard (Multi-AZ).
func TestDurableReplicaScaling(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token = "durable-token-0123456789"
	_, newClient := createDurableGroupWith(t, srv, "grow", token, func(in *elasticache.CreateReplicationGroupInput) {
		in.NumNodeGroups, in.ClusterMode = aws.Int32(1), types.ClusterModeEnabled
	})
	cc := newClient()
	writeClusterKeys(t, cc, "k", 300)

	if _, err := c.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("grow"), NewReplicaCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("IncreaseReplicaCount: %v", err)
	}
	waitGroupAvailable(t, c, "grow")
	added := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "grow-0001-003").CacheNodes[0].Endpoint), Password: token,
		TLSConfig: &tls.Config{RootCAs: nodeCA(t, srv), ServerName: "127.0.0.1"}})
	defer added.Close()
	eventually(t, 30*time.Second, "the new replica holds the shard's data", func() error {
		info, err := added.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "role:slave") || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("not a linked replica:\n%s", info)
		}
		if n, err := added.DBSize(ctx).Result(); err != nil || n < 300 {
			return fmt.Errorf("%d keys (%v)", n, err)
		}
		return nil
	})

	killPrimaryOfSlot0(t, srv, c, cc)
	waitGroupAvailable(t, c, "grow")
	if err := checkClusterKeys(newClient(), "k", 300); err != nil {
		t.Errorf("after a failover with the added replica: %v", err)
	}

	_, err := c.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("grow"), NewReplicaCount: aws.Int32(0), ApplyImmediately: aws.Bool(true)})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" || !strings.Contains(err.Error(), "at least one replica") {
		t.Errorf("a sync group down to no replica: %v, want InvalidParameterCombination", err)
	}
	if _, err := c.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("grow"), NewReplicaCount: aws.Int32(1), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("DecreaseReplicaCount: %v", err)
	}
	waitGroupAvailable(t, c, "grow")
	if g := describeGroup(t, c, "grow"); len(g.MemberClusters) != 2 {
		t.Errorf("members after the decrease: %v", g.MemberClusters)
	}
	if err := checkClusterKeys(newClient(), "k", 300); err != nil {
		t.Errorf("after the decrease: %v", err)
	}
}
