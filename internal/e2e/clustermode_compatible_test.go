package e2e

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// TestClusterModeCompatible moves a cluster mode disabled group to compatible and then to enabled, with a
// plain client writing through the primary endpoint during the move: in compatible mode both the primary
// endpoint and a cluster client at the configuration endpoint serve every key; in enabled mode the group
// is a one-shard cluster mode group that can be resharded.
func TestClusterModeCompatible(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("mig"), ReplicationGroupDescription: aws.String("mig"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(3), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	g := waitGroupAvailable(t, c, "mig")
	primaryEndpoint, readerEndpoint := addr(g.NodeGroups[0].PrimaryEndpoint), addr(g.NodeGroups[0].ReaderEndpoint)
	plain := redis.NewClient(&redis.Options{Addr: primaryEndpoint, MaxRetries: 3, DialTimeout: time.Second, ReadTimeout: 3 * time.Second})
	defer plain.Close()
	writeKeys(t, plain, 2000)
	w := startKeyWriter(plain, "w", 1)

	out, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"), ClusterMode: types.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("to compatible: %v", err)
	}
	rg := out.ReplicationGroup
	if rg.ClusterMode != types.ClusterModeCompatible || aws.ToString(rg.Status) != "modifying" || rg.ConfigurationEndpoint == nil {
		t.Errorf("compatible response: mode %q, status %s, configuration endpoint %v", rg.ClusterMode, aws.ToString(rg.Status), rg.ConfigurationEndpoint)
	}
	if pending := rg.PendingModifiedValues; pending == nil || pending.ClusterMode != types.ClusterModeCompatible {
		t.Errorf("PendingModifiedValues %+v while the engines move, want ClusterMode compatible", pending)
	}
	g = waitGroupAvailable(t, c, "mig")
	if g.PendingModifiedValues != nil && g.PendingModifiedValues.ClusterMode != "" {
		t.Errorf("PendingModifiedValues.ClusterMode %q once the group is available", g.PendingModifiedValues.ClusterMode)
	}
	if aws.ToBool(g.ClusterEnabled) || g.NodeGroups[0].PrimaryEndpoint == nil || g.ConfigurationEndpoint == nil {
		t.Errorf("compatible group: ClusterEnabled %v, primary endpoint %v, configuration endpoint %v", aws.ToBool(g.ClusterEnabled), g.NodeGroups[0].PrimaryEndpoint, g.ConfigurationEndpoint)
	}
	cfg := addr(g.ConfigurationEndpoint)
	cc := clusterClient(cfg)
	defer cc.Close()
	info, err := cc.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") || !strings.Contains(info, "cluster_size:1") {
		t.Fatalf("CLUSTER INFO through the configuration endpoint: %v\n%s", err, info)
	}
	if err := checkKeys(cc, 2000); err != nil {
		t.Fatalf("through the cluster client: %v", err)
	}
	w.stop(t, cc)
	// The primary endpoint still serves plain clients; the reader endpoint reaches replicas that have the data.
	if err := plain.Set(ctx, "after", "compatible", 0).Err(); err != nil {
		t.Errorf("SET through the primary endpoint in compatible mode: %v", err)
	}
	reader := redis.NewClient(&redis.Options{Addr: readerEndpoint})
	defer reader.Close()
	eventually(t, 10*time.Second, "the reader endpoint serves replicas in sync", func() error {
		role, err := reader.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "slave" {
			return fmt.Errorf("ROLE through the reader endpoint: %v %v", role, err)
		}
		if n, err := reader.DBSize(ctx).Result(); err != nil || n < 2000 {
			return fmt.Errorf("DBSIZE through the reader endpoint: %d %v", n, err)
		}
		return nil
	})

	// On to enabled: the primary and reader endpoints go, the configuration endpoint stays.
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"), ClusterMode: types.ClusterModeEnabled, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("to enabled: %v", err)
	}
	g = waitGroupAvailable(t, c, "mig")
	if !aws.ToBool(g.ClusterEnabled) || g.ClusterMode != types.ClusterModeEnabled || g.NodeGroups[0].PrimaryEndpoint != nil || addr(g.ConfigurationEndpoint) != cfg {
		t.Errorf("enabled group: ClusterEnabled %v, mode %q, primary endpoint %v, configuration endpoint %v (was %s)", aws.ToBool(g.ClusterEnabled), g.ClusterMode, g.NodeGroups[0].PrimaryEndpoint, g.ConfigurationEndpoint, cfg)
	}
	eventually(t, 10*time.Second, "the primary endpoint closed", func() error {
		if conn, err := net.DialTimeout("tcp", primaryEndpoint, time.Second); err == nil {
			conn.Close()
			return fmt.Errorf("%s still accepts connections", primaryEndpoint)
		}
		return nil
	})
	// A cluster mode enabled group reshards like any other.
	if _, err := c.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("mig"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true),
	}); err != nil {
		t.Fatalf("scale out: %v", err)
	}
	g = waitGroupAvailable(t, c, "mig")
	if slots := slotsOf(t, g); len(slots) != 2 {
		t.Errorf("after scale-out: %v", slots)
	}
	fresh := clusterClient(cfg)
	defer fresh.Close()
	if err := checkClusterKeys(fresh, "k", 2000); err != nil {
		t.Errorf("after scale-out: %v", err)
	}
	deleteGroup(t, c, "mig")
}

// TestClusterModeCompatibleRefusesOtherDatabases: a group with keys outside database 0 cannot run in
// cluster mode; the move to compatible is abandoned before any engine changes, with an event that says why.
func TestClusterModeCompatibleRefusesOtherDatabases(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("dbs"), ReplicationGroupDescription: aws.String("dbs"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	g := waitGroupAvailable(t, c, "dbs")
	db1 := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), DB: 1})
	defer db1.Close()
	if err := db1.Set(ctx, "elsewhere", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("dbs"), ClusterMode: types.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("to compatible: %v", err)
	}
	eventually(t, 30*time.Second, "the move abandoned", func() error {
		g := describeGroup(t, c, "dbs")
		if g.ClusterMode != types.ClusterModeDisabled || aws.ToString(g.Status) != "available" || g.ConfigurationEndpoint != nil {
			return fmt.Errorf("mode %q, status %s, configuration endpoint %v", g.ClusterMode, aws.ToString(g.Status), g.ConfigurationEndpoint)
		}
		return nil
	})
	events, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String("dbs"), SourceType: types.SourceTypeReplicationGroup})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events.Events, func(e types.Event) bool { return strings.Contains(aws.ToString(e.Message), "database 1") }) {
		t.Errorf("no event names database 1: %+v", events.Events)
	}
	if v, err := db1.Get(ctx, "elsewhere").Result(); err != nil || v != "1" {
		t.Errorf("database 1 after the abandoned move: %q, %v", v, err)
	}
}
