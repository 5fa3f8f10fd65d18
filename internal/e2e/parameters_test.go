package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// A Memcached parameter group whose values memcached refuses together leaves the cluster in
// incompatible-parameters with the engine's words in an event; it can be deleted there, and once the group
// is fixed the cluster starts by itself. A value the catalog allows on its own (chunk_size=96) starts.
func TestIncompatibleParametersOnRealEngines(t *testing.T) {
	requireBinary(t, "memcached")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	group := func(name string, values map[string]string) {
		t.Helper()
		if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{
			CacheParameterGroupName: aws.String(name), CacheParameterGroupFamily: aws.String("memcached1.6"), Description: aws.String(name),
		}); err != nil {
			t.Fatal(err)
		}
		modify(t, c, name, values)
	}
	create := func(id, pg string) {
		t.Helper()
		if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id), Engine: aws.String("memcached"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1), CacheParameterGroupName: aws.String(pg)}); err != nil {
			t.Fatal(err)
		}
	}
	incompatible := func(id string) {
		t.Helper()
		eventually(t, 30*time.Second, id+" incompatible-parameters", func() error {
			if st := aws.ToString(describeCluster(t, c, id).CacheClusterStatus); st != "incompatible-parameters" {
				return fmt.Errorf("status %s", st)
			}
			return nil
		})
	}

	group("chunks", map[string]string{"chunk_size": "96"})
	create("a-pg-mc", "chunks")
	waitAvailable(t, c, "a-pg-mc")

	group("clash", map[string]string{"max_item_size": "2048", "slab_chunk_max": "4096"})
	create("clash", "clash")
	incompatible("clash")
	var said bool
	for _, m := range eventMessages(t, c, "clash") {
		said = said || strings.Contains(m, "cannot be larger than -I") && strings.Contains(m, "cache parameter group clash")
	}
	if !said {
		t.Errorf("events %q do not give memcached's reason", eventMessages(t, c, "clash"))
	}
	modify(t, c, "clash", map[string]string{"slab_chunk_max": "2048"})
	waitAvailable(t, c, "clash")

	group("doomed", map[string]string{"max_item_size": "2048", "slab_chunk_max": "4096"})
	create("doomed", "doomed")
	incompatible("doomed")
	if _, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("doomed")}); err != nil {
		t.Fatalf("deleting a cluster in incompatible-parameters: %v", err)
	}
	waitDeleted(t, c, "doomed")
}

func modify(t *testing.T, c *elasticache.Client, name string, values map[string]string) {
	t.Helper()
	var pv []types.ParameterNameValue
	for k, v := range values {
		pv = append(pv, types.ParameterNameValue{ParameterName: aws.String(k), ParameterValue: aws.String(v)})
	}
	if _, err := c.ModifyCacheParameterGroup(ctxT(t), &elasticache.ModifyCacheParameterGroupInput{CacheParameterGroupName: aws.String(name), ParameterNameValues: pv}); err != nil {
		t.Fatalf("modify %s: %v", name, err)
	}
}
