package durable

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAsyncRefusesWritesOverTheWindow: an async endpoint answers writes before the log has them; while the
// log has no quorum it goes on answering them until the oldest is older than the window, then refuses
// writes (a transaction's EXEC too, leaving the connection usable) and answers reads; once the log has
// caught up, writes are taken again and every write acknowledged is in the log.
func TestAsyncRefusesWritesOverTheWindow(t *testing.T) {
	addr := startValkey(t)
	replicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const window = time.Second
	ep := startShipperAndEndpoint(t, ctx, addr, log, func(cfg *EndpointConfig) { cfg.Async, cfg.Window = true, window })
	rdb := redis.NewClient(&redis.Options{Addr: ep.Addr().String(), MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	replicas.stop(1)
	replicas.stop(2)
	var acked []string
	for i := 0; ; i++ {
		key := "outage-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		err := rdb.Set(ctx, key, i, 0).Err()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "CLUSTERDOWN") {
				t.Fatalf("a write over the window was refused with %v, want CLUSTERDOWN", err)
			}
			break
		}
		acked = append(acked, key)
		if i > 500 {
			t.Fatal("writes are still taken long after the window, with the log down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(acked) == 0 {
		t.Fatal("no write was answered while the log was down: async should answer before the log has a write")
	}
	st := ep.Stats()
	if st.DurabilityLag < window || !st.TrafficManagementActive || st.DurabilityBufferExceededErrorCount != 1 {
		t.Errorf("stats while refusing = %+v, want lag ≥ %v, active, one refusal", st, window)
	}
	if v, err := rdb.Get(ctx, acked[0]).Result(); err != nil || v != "0" {
		t.Errorf("a read while writes are refused = %q, %v", v, err)
	}
	tx := rdb.TxPipeline()
	tx.Set(ctx, "in-refused-tx", "1", 0)
	if _, err := tx.Exec(ctx); err == nil || !strings.Contains(err.Error(), "CLUSTERDOWN") {
		t.Errorf("a transaction while writes are refused: %v, want CLUSTERDOWN", err)
	}
	if n, err := rdb.Exists(ctx, "in-refused-tx").Result(); err != nil || n != 0 {
		t.Errorf("after a refused EXEC: EXISTS = %d, %v (the transaction must be discarded, the connection usable)", n, err)
	}

	replicas.start(1)
	replicas.start(2)
	deadline := time.Now().Add(time.Minute)
	for rdb.Set(ctx, "after", "1", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("writes are still refused a minute after the log came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := ep.Stats(); st.TrafficManagementActive || st.DurabilityBufferExceededErrorCount < 2 {
		t.Errorf("stats once the log caught up = %+v", st)
	}
	// With no write coming, the endpoint still learns that the log caught up: the buffer empties.
	for deadline := time.Now().Add(10 * time.Second); ep.Stats().DurabilityLag > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("DurabilityLag still %v ten seconds after the last write, the log running", ep.Stats().DurabilityLag)
		}
	}
	logged, _, err := log.Read(ctx, 0, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(acked, "before") {
		if !bytes.Contains(logged, []byte(k)) {
			t.Errorf("acknowledged write %s is not in the log once it caught up", k)
		}
	}
	if bytes.Contains(logged, []byte("in-refused-tx")) {
		t.Error("a refused transaction reached the log")
	}
}
