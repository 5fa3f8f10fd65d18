package durable

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestAppenderAcrossALeaderChange: chunks added without waiting are all committed, in order and once (what
// waits while appends are in flight goes as one), while the log's leader is stopped halfway (the appends
// not answered go again to the new leader).
func TestAppenderAcrossALeaderChange(t *testing.T) {
	replicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := log.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var committed []int
	total := 0
	app := newAppender(ctx, log, 1, 0, func(n int) {
		mu.Lock()
		committed = append(committed, n)
		total += n
		mu.Unlock()
	})
	defer app.close()
	var want []byte
	for i := range 600 {
		chunk := []byte(fmt.Sprintf("chunk-%04d;", i))
		want = append(want, chunk...)
		if err := app.add(chunk); err != nil {
			t.Fatal(err)
		}
		if i == 300 {
			for k, r := range replicas.cfgs {
				if st, err := log.Status(ctx, r.Self.APIAddr); err == nil && st.State == "Leader" {
					replicas.stop(k)
				}
			}
		}
	}
	eventually(t, 30*time.Second, "every chunk committed", func() error {
		mu.Lock()
		defer mu.Unlock()
		if total != len(want) {
			return fmt.Errorf("%d of %d bytes committed (%d appends)", total, len(want), len(committed))
		}
		return nil
	})
	got, _, err := log.Read(ctx, 0, 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the log holds %d bytes (%v), want the %d added, in order", len(got), err, len(want))
	}
}
