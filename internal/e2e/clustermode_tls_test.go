package e2e

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"
)

// TestClusterModeTLS runs a cluster mode group with in-transit encryption and an AUTH token: a TLS cluster
// client works through the configuration endpoint, plain connections are refused, the cluster bus speaks
// TLS (a killed primary's shard fails over), and slots with their keys move to a new shard over TLS.
func TestClusterModeTLS(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token = "cluster-token-0123456789"
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("sec"), ReplicationGroupDescription: aws.String("sec"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1),
		TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	g := waitGroupAvailable(t, c, "sec")
	cfg := addr(g.ConfigurationEndpoint)
	pool := nodeCA(t, srv)
	newClient := func() *redis.ClusterClient {
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: []string{cfg}, Password: token, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
			DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, MaxRedirects: 8,
		})
		t.Cleanup(func() { cc.Close() })
		return cc
	}
	cc := newClient()
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:4") {
		t.Fatalf("CLUSTER INFO over TLS: %v\n%s", err, info)
	}
	plain := redis.NewClient(&redis.Options{Addr: cfg, Password: token, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("a connection without TLS was served at the configuration endpoint")
	}
	writeClusterKeys(t, cc, "k", 2000)

	// The shard of slot 0 fails over: the engines agree on it over the TLS cluster bus.
	killPrimaryOfSlot0(t, srv, c, cc)
	waitGroupAvailable(t, c, "sec")

	// Slots and keys move to a third shard (MIGRATE between TLS engines).
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("sec"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		t.Fatalf("scale out: %v", err)
	}
	g = waitGroupAvailable(t, c, "sec")
	if slots := slotsOf(t, g); len(slots) != 3 || slots["0003"] == "" {
		t.Errorf("after scale-out: %v", slots)
	}
	if err := checkClusterKeys(newClient(), "k", 2000); err != nil {
		t.Errorf("after failover and scale-out: %v", err)
	}
	deleteGroup(t, c, "sec")
}
