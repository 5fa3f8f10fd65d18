package controller

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestManagerRetries: a failing reconcile is retried with a doubling backoff that a success resets; a
// terminal error is not retried; a result asks for its own delay.
func TestManagerRetries(t *testing.T) {
	m := newManager(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var delays []time.Duration
	m.after = func(d time.Duration, _ func()) { delays = append(delays, d) }
	fail := true
	m.register("k", func(_ context.Context, key string) (Result, error) {
		switch key {
		case "flaky":
			if fail {
				return Result{RequeueAfter: settleInterval}, errors.New("engine unreachable")
			}
			return Result{}, nil
		case "corrupt":
			return Result{}, Terminal(errors.New("decode: bad record"))
		case "settling":
			return Result{RequeueAfter: settleInterval}, nil
		}
		return Result{}, nil
	})
	ctx := context.Background()
	for range 3 {
		m.process(ctx, "k|flaky")
	}
	fail = false
	m.process(ctx, "k|flaky")
	fail = true
	m.process(ctx, "k|flaky")
	want := []time.Duration{backoffBase, 2 * backoffBase, 4 * backoffBase, backoffBase}
	if !slices.Equal(delays, want) {
		t.Errorf("retry delays = %v, want %v (doubling, reset by the success)", delays, want)
	}

	delays = nil
	m.process(ctx, "k|corrupt")
	m.process(ctx, "k|settling")
	m.process(ctx, "unknown|x")
	if want := []time.Duration{settleInterval}; !slices.Equal(delays, want) {
		t.Errorf("delays = %v, want only the settling key's %v (terminal errors and unknown kinds are not retried)", delays, want)
	}
	if got := backoff(40); got != backoffMax {
		t.Errorf("backoff after 40 failures = %v, want the cap %v", got, backoffMax)
	}
}
