package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/memcache"
)

// TestMetricsEndpoint runs ecache with --metrics-listen, creates a Valkey (or Redis OSS) cluster and a
// two-node memcached cluster through the API, and runs a known number of writes, hits and misses on them:
// a scrape reports those numbers under CloudWatch's names, each node under its CacheClusterId and
// CacheNodeId, and agrees with the engines' own INFO and stats read in the same test. A replication group's
// replica reports IsMaster 0.
func TestMetricsEndpoint(t *testing.T) {
	engine := "valkey"
	if _, err := exec.LookPath("valkey-server"); err != nil {
		engine = "redis"
	}
	requireBinary(t, engine+"-server", "memcached")
	srv, metricsURL := startMetricsServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	for _, in := range []*elasticache.CreateCacheClusterInput{
		{CacheClusterId: aws.String("metered"), Engine: aws.String(engine), CacheNodeType: aws.String("cache.t3.small")},
		{CacheClusterId: aws.String("metered-mc"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.small"), NumCacheNodes: aws.Int32(2)},
	} {
		if _, err := c.CreateCacheCluster(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("metered-rg"), ReplicationGroupDescription: aws.String("m"), Engine: aws.String(engine),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2),
	}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "metered")
	waitAvailable(t, c, "metered-mc")
	waitGroupAvailable(t, c, "metered-rg")

	rdb := redis.NewClient(&redis.Options{Addr: addr(describeCluster(t, c, "metered").CacheNodes[0].Endpoint)})
	defer rdb.Close()
	for i := range 4 {
		if err := rdb.Set(ctx, fmt.Sprint("k", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k0", "k1", "k2", "nope"} {
		_ = rdb.Get(ctx, k).Err()
	}
	mc := describeCluster(t, c, "metered-mc")
	second := addr(mc.CacheNodes[1].Endpoint)
	for i := range 2 {
		if err := memcache.Set(ctx, second, nil, fmt.Sprint("item", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := memcache.RoundTrip(ctx, second, nil, []byte("get item0\r\n")); err != nil {
		t.Fatal(err)
	}

	samples := scrape(t, metricsURL)
	byNode := func(name, cluster, node string) float64 {
		t.Helper()
		for _, s := range samples {
			if s.name == name && s.labels["CacheClusterId"] == cluster && s.labels["CacheNodeId"] == node {
				return s.value
			}
		}
		t.Errorf("no %s for %s/%s", name, cluster, node)
		return -1
	}
	info, err := rdb.Info(ctx, "stats", "keyspace").Result()
	if err != nil {
		t.Fatal(err)
	}
	for name, field := range map[string]string{"CacheHits": "keyspace_hits:", "CacheMisses": "keyspace_misses:"} {
		want := infoNumber(info, field)
		if got := byNode(name, "metered", "0001"); got != want {
			t.Errorf("%s = %v, INFO says %v", name, got, want)
		}
	}
	for name, want := range map[string]float64{"CacheHits": 3, "CacheMisses": 1, "CurrItems": 4, "CacheHitRate": 75, "SetTypeCmds": 4, "IsMaster": 1} {
		if got := byNode(name, "metered", "0001"); got != want {
			t.Errorf("%s of metered = %v, want %v", name, got, want)
		}
	}
	stats, err := memcache.Stats(ctx, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Each node also holds the auto-discovery item ecache seeds (AmazonElastiCache:cluster).
	items2, items1 := byNode("CurrItems", "metered-mc", "0002"), byNode("CurrItems", "metered-mc", "0001")
	if fmt.Sprint(items2) != stats["curr_items"] || items2-items1 != 2 {
		t.Errorf("CurrItems of metered-mc: node 0002 %v (stats say %s), node 0001 %v; want two more on 0002", items2, stats["curr_items"], items1)
	}
	if got := byNode("GetHits", "metered-mc", "0002"); fmt.Sprint(got) != stats["get_hits"] || got < 1 {
		t.Errorf("GetHits of metered-mc node 0002 = %v, stats say %s", got, stats["get_hits"])
	}
	if got := byNode("IsMaster", "metered-rg-002", "0001"); got != 0 {
		t.Errorf("IsMaster of the replica metered-rg-002 = %v", got)
	}
	for _, s := range samples {
		if s.labels["CacheClusterId"] == "metered-rg-001" && s.labels["ReplicationGroupId"] != "metered-rg" {
			t.Errorf("%s of metered-rg-001 has ReplicationGroupId %q", s.name, s.labels["ReplicationGroupId"])
		}
	}

	// A deleted cluster's node leaves the scrape.
	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("metered")}); err != nil {
		t.Fatal(err)
	}
	waitDeleted(t, c, "metered")
	eventually(t, 10*time.Second, "the deleted cluster gone from the scrape", func() error {
		if _, ok := metricOf(scrape(t, metricsURL), "CurrItems", "metered"); ok {
			return fmt.Errorf("still reported")
		}
		return nil
	})
}

// infoNumber reads one numeric field ("name:") of an INFO reply.
func infoNumber(info, field string) float64 {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
