package ecachetest_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/ecachetest"
)

// TestNew starts a server in a subtest, uses it as a test would (a cache cluster through the SDK, a real
// engine behind its endpoint, a reset), and checks that its engine is gone once the subtest has ended.
func TestNew(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	var pid int
	t.Run("server", func(t *testing.T) {
		srv := ecachetest.New(t)
		ec := elasticache.NewFromConfig(srv.Config)
		ctx := context.Background()
		if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("demo"),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
			t.Fatal(err)
		}
		w := elasticache.NewCacheClusterAvailableWaiter(ec, func(o *elasticache.CacheClusterAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
		out, err := w.WaitForOutput(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("demo"), ShowCacheNodeInfo: aws.Bool(true)}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		rc := nodeClient(out.CacheClusters[0])
		defer rc.Close()
		if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatalf("the engine behind the node endpoint: %v", err)
		}
		resetPID := enginePID(t, rc)
		if err := srv.Reset(); err != nil {
			t.Fatal(err)
		}
		clusters, err := ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err != nil || len(clusters.CacheClusters) != 0 {
			t.Fatalf("clusters after Reset: %v %v", clusters, err)
		}
		if syscall.Kill(resetPID, 0) == nil {
			t.Errorf("the engine (pid %d) outlived Reset", resetPID)
		}
		// A cluster left for the cleanup to remove.
		if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("left"),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
			t.Fatal(err)
		}
		out, err = w.WaitForOutput(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("left"), ShowCacheNodeInfo: aws.Bool(true)}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		left := nodeClient(out.CacheClusters[0])
		defer left.Close()
		pid = enginePID(t, left)
	})
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("the engine (pid %d) outlived the test", pid)
	}
}

// nodeClient is a client of the first node of cl.
func nodeClient(cl types.CacheCluster) *redis.Client {
	ep := cl.CacheNodes[0].Endpoint
	return redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", aws.ToString(ep.Address), aws.ToInt32(ep.Port))})
}

// enginePID is the process id the engine behind rc reports.
func enginePID(t *testing.T, rc *redis.Client) int {
	t.Helper()
	info, err := rc.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if i := strings.Index(info, "process_id:"); i < 0 {
		t.Fatalf("no process id in INFO:\n%s", info)
	} else if _, err := fmt.Sscanf(info[i:], "process_id:%d", &pid); err != nil || pid == 0 {
		t.Fatalf("no process id in INFO: %v", err)
	}
	return pid
}
