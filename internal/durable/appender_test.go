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
	app := newAppender(ctx, log, 1, 0, nil, func(n int) {
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

// TestAppenderLingers: with a linger, chunks added one after the other within it go to the log as one
// append; without, the first goes at once.
func TestAppenderLingers(t *testing.T) {
	_, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := log.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	appends := func(linger func() time.Duration, offset uint64) int {
		var mu sync.Mutex
		calls, total := 0, 0
		app := newAppender(ctx, log, 1, offset, linger, func(n int) {
			mu.Lock()
			calls++
			total += n
			mu.Unlock()
		})
		defer app.close()
		for i := range 50 {
			if err := app.add([]byte(fmt.Sprintf("chunk-%04d;", i))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			done, n := total == 50*11, calls
			mu.Unlock()
			if done {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("committed %d of %d bytes", total, 50*11)
			}
		}
	}
	if n := appends(func() time.Duration { return 500 * time.Millisecond }, 0); n != 1 {
		t.Errorf("with a linger longer than the adds, %d appends; want one", n)
	}
	if n := appends(nil, 50*11); n < 2 {
		t.Errorf("without a linger, %d appends; want the first at once and the rest after", n)
	}
}
