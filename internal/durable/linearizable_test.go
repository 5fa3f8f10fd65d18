package durable

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/durable/durabletest"
	"github.com/ecache/ecache/internal/resp"
)

// TestLinearizableAcrossFailures (Jepsen-style, checked with porcupine): clients GET and SET a few keys
// through the primary's durable endpoint while the log's leader is killed and brought back, and then the
// primary engine is SIGKILLed and a replica takes over through the log. The history every client saw
// (a SET whose reply never came may or may not have happened) must be linearizable: no acknowledged write
// is lost, and no read shows a write that was then lost. A second replica, fed by the relay through the
// dead primary's endpoint, ends with the new primary's data.
func TestLinearizableAcrossFailures(t *testing.T) {
	primaryAddr, primaryProc := startEngine(t)
	r1Addr, r2Addr := startValkey(t), startValkey(t)
	logReplicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := newTestShard(t, log)
	if err := sh.Lead(ctx, resp.Node{Addr: primaryAddr}); err != nil {
		t.Fatal(err)
	}
	primaryEndpoint := nodeEndpoint(t, ctx, primaryAddr, sh)
	r1, r2 := redis.NewClient(&redis.Options{Addr: r1Addr}), redis.NewClient(&redis.Options{Addr: r2Addr})
	defer r1.Close()
	defer r2.Close()
	replicaOf(t, ctx, r1, primaryEndpoint)
	replicaOf(t, ctx, r2, primaryEndpoint)

	var current atomic.Value // the address clients send to: the primary's endpoint
	current.Store(primaryEndpoint.Addr().String())
	h := durabletest.NewHistory()
	keys := []string{"a", "b", "c", "d"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for id := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.RunClient(ctx, id, keys, func(addr string) *redis.Client {
				return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 3 * time.Second, PoolSize: 1})
			}, &current, &stop)
		}()
	}

	time.Sleep(800 * time.Millisecond)
	leader := -1
	for i, r := range logReplicas.cfgs {
		if st, err := log.Status(ctx, r.Self.APIAddr); err == nil && st.State == "Leader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("the log has no leader")
	}
	logReplicas.stop(leader)
	time.Sleep(800 * time.Millisecond)
	logReplicas.start(leader)
	time.Sleep(400 * time.Millisecond)

	if err := primaryProc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	failOverTo(t, ctx, sh, r1, r1Addr)
	promoted := nodeEndpoint(t, ctx, r1Addr, sh)
	current.Store(promoted.Addr().String())
	t.Logf("failover through the log took %v after the SIGKILL (detection included)", time.Since(killedAt).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	final := redis.NewClient(&redis.Options{Addr: promoted.Addr().String()})
	defer final.Close()
	h.Check(t, ctx, final, keys, 100)
	eventually(t, 20*time.Second, "the second replica follows the new primary", func() error {
		for _, k := range keys {
			want, _ := final.Get(ctx, k).Result()
			if got, _ := r2.Get(ctx, k).Result(); got != want {
				return fmt.Errorf("key %s: %q on the replica, %q on the primary", k, got, want)
			}
		}
		return nil
	})
}
