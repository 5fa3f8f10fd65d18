package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/ecache/ecache/internal/durable/durabletest"
	"github.com/redis/go-redis/v9"
)

// TestDurableGroupIsLinearizable (Jepsen-style, checked with porcupine) runs clients that GET and SET a few
// keys on the primary of a sync group, through the real binary, its node endpoints and TLS, while in turn:
// the log's leader is SIGKILLed; the log is cut off (every log replica SIGSTOPped) and comes back; the
// primary engine is SIGKILLed; the log is cut off and the primary SIGKILLed meanwhile; ecache itself is
// SIGKILLed and started again. The history every client saw (a SET without a reply may or may not have
// happened) must be linearizable: no acknowledged write lost, no read of a write that was then lost.
func TestDurableGroupIsLinearizable(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	const token = "durable-token-0123456789"
	_, newClient := createDurableGroupWith(t, srv, "jepsen", token, func(in *elasticache.CreateReplicationGroupInput) {
		in.NumNodeGroups, in.ClusterMode = aws.Int32(1), types.ClusterModeEnabled
	})
	discovery := newClient()
	var current atomic.Value
	current.Store(primaryAddr(t, discovery))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // follows the primary as the cluster reports it
		for ctx.Err() == nil {
			if a, err := slot0Primary(ctx, discovery); err == nil {
				current.Store(a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	rec := durabletest.NewHistory()
	keys := []string{"r0", "r1", "r2", "r3", "r4", "r5"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	tlsConfig := &tls.Config{RootCAs: nodeCA(t, srv), ServerName: "127.0.0.1"}
	dial := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addr, Password: token, TLSConfig: tlsConfig, MaxRetries: -1, PoolSize: 1,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second})
	}
	for id := range 4 {
		wg.Go(func() { rec.RunClient(ctx, id, keys, dial, &current, &stop) })
	}
	traffic := func() { time.Sleep(2 * time.Second) }
	var cuts [][2]int64 // while the log was stopped
	cutLog := func(d time.Duration, during func()) {
		signalLogReplicas(t, srv, syscall.SIGSTOP)
		from := rec.Now()
		if during != nil {
			during()
		}
		time.Sleep(d)
		cuts = append(cuts, [2]int64{from, rec.Now()})
		signalLogReplicas(t, srv, syscall.SIGCONT)
	}
	killPrimary := func() { killPID(t, engineOf(t, srv, primaryOfSlot(t, c, discovery, 0))) }

	traffic()
	killPID(t, enginePIDs(srv.dataDir)[logLeader(t, srv)])
	traffic()
	cutLog(3*time.Second, nil)
	traffic()
	killPrimary()
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	cutLog(2*time.Second, killPrimary)
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	srv.kill()
	srv.start()
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	stop.Store(true)
	wg.Wait()

	final := redis.NewClient(&redis.Options{Addr: primaryAddr(t, newClient()), Password: token, TLSConfig: tlsConfig})
	defer final.Close()
	rec.Check(t, ctxT(t), final, keys, 200)
	for _, op := range rec.Ops() {
		for _, cut := range cuts {
			if op.Input.(durabletest.Input).Set && op.Call > cut[0] && op.Return < cut[1] {
				t.Errorf("%v was acknowledged while the log was stopped", op.Input)
			}
		}
	}
	failovers := failoverEvents(t, c, "jepsen")
	if failovers < 2 {
		t.Errorf("%d failovers recorded, want one per primary killed", failovers)
	}
}

// slot0Primary is the address of the primary serving slot 0, as the cluster reports it.
func slot0Primary(ctx context.Context, cc *redis.ClusterClient) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(sctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if s.Start == 0 && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("no node serves slot 0")
}

func primaryAddr(t *testing.T, cc *redis.ClusterClient) string {
	t.Helper()
	var addr string
	eventually(t, 30*time.Second, "the primary of slot 0", func() (err error) {
		addr, err = slot0Primary(ctxT(t), cc)
		return err
	})
	return addr
}

// logLeader is the driver id of the log replica that leads node group 0001's log.
func logLeader(t *testing.T, srv *ecacheProcess) string {
	t.Helper()
	for id, api := range logReplicas(t, srv.dataDir) {
		resp, err := http.Get("http://" + api + "/status")
		if err != nil {
			continue
		}
		var st struct{ State string }
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if strings.Contains(id, "-0001-log-") && st.State == "Leader" {
			return id
		}
	}
	t.Fatal("node group 0001's log has no leader")
	return ""
}
