package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/store"
)

// TestScheduleFollowsTheClock: a job runs at the first tick, then again only once the controller's clock
// has moved past its interval, however many ticks pass in between.
func TestScheduleFollowsTheClock(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)}
	var runs atomic.Int32
	job := Job{Name: "count", Every: time.Hour, Run: func(context.Context) error { runs.Add(1); return nil }}
	c := New(store.NewMemory(), newFakeDriver(), newFakeEngines(), engine.NewHost(),
		Config{Now: clk.Now, Resync: time.Hour, Jobs: []Job{job}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.schedule(ctx, time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	waitRuns := func(want int32) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d runs", want), func() error {
			if got := runs.Load(); got != want {
				return fmt.Errorf("%d runs", got)
			}
			return nil
		})
	}
	waitRuns(1)
	clk.Set(clk.Now().Add(59 * time.Minute))
	time.Sleep(50 * time.Millisecond) // many ticks
	if got := runs.Load(); got != 1 {
		t.Fatalf("runs before the interval passed = %d, want 1", got)
	}
	clk.Set(clk.Now().Add(2 * time.Minute))
	waitRuns(2)
}
