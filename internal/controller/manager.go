package controller

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
)

// Result says when a key is to be reconciled again although nothing changed; zero: not before the next
// change, engine exit or periodic resync brings it back.
type Result struct{ RequeueAfter time.Duration }

// reconcileFunc converges one key of a kind. An error is retried with backoff unless it is Terminal.
type reconcileFunc func(ctx context.Context, key string) (Result, error)

// Retry timing: a reconcile that waits for engines to settle asks again after settleInterval; a failing one
// backs off from backoffBase, doubling up to backoffMax, until it succeeds.
const (
	settleInterval = 100 * time.Millisecond
	backoffBase    = 200 * time.Millisecond
	backoffMax     = 10 * time.Second
)

// terminalError is an error that retrying cannot fix.
type terminalError struct{ err error }

func (e terminalError) Error() string { return e.err.Error() }
func (e terminalError) Unwrap() error { return e.err }

// Terminal marks err as one that retrying cannot fix (a record that does not decode): the manager logs it
// and does not retry; the next change to the record, or the periodic resync, tries again.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return terminalError{err}
}

// manager runs the reconcilers: for each kind a lane, a queue of kind|key items and workers that hand them
// to the kind's reconciler, and the retries that results and errors ask for. Kinds do not share workers, so
// that a long job of one (a snapshot's copy, a restore loading) never holds up another (a failover).
type manager struct {
	logger  *slog.Logger
	lanes   map[string]*lane
	workers sync.WaitGroup
	// after schedules f after d (time.AfterFunc; tests record the delays instead).
	after func(d time.Duration, f func())

	mu       sync.Mutex
	failures map[string]int // consecutive failures per item
}

// lane is one kind's reconciler and queue.
type lane struct {
	reconcile reconcileFunc
	queue     *queue
}

func newManager(logger *slog.Logger) *manager {
	return &manager{logger: logger, lanes: map[string]*lane{}, failures: map[string]int{},
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
}

// register makes fn the reconciler of kind; call it before start.
func (m *manager) register(kind string, fn reconcileFunc) {
	m.lanes[kind] = &lane{reconcile: fn, queue: newQueue()}
}

// enqueue schedules kind/key now; a kind without a reconciler is ignored.
func (m *manager) enqueue(kind, key string) {
	if l := m.lanes[kind]; l != nil {
		l.queue.add(kind + "|" + key)
	}
}

// start runs n workers per kind until ctx ends or stop is called.
func (m *manager) start(ctx context.Context, n int) {
	for _, l := range m.lanes {
		for range n {
			m.workers.Go(func() {
				for {
					item, ok := l.queue.get()
					if !ok {
						return
					}
					m.process(ctx, item)
				}
			})
		}
	}
}

// stop closes the queues and waits for the workers.
func (m *manager) stop() {
	for _, l := range m.lanes {
		l.queue.close()
	}
	m.workers.Wait()
}

// process reconciles one item and schedules what its result or error asks for.
func (m *manager) process(ctx context.Context, item string) {
	kind, key, _ := strings.Cut(item, "|")
	l := m.lanes[kind]
	if l == nil {
		return
	}
	res, err := l.reconcile(ctx, key)
	l.queue.done(item)
	if ctx.Err() != nil {
		return
	}
	delay := res.RequeueAfter
	m.mu.Lock()
	switch {
	case err == nil:
		delete(m.failures, item)
	case errors.As(err, new(terminalError)):
		delete(m.failures, item)
		delay = 0
	default:
		m.failures[item]++
		delay = backoff(m.failures[item])
	}
	m.mu.Unlock()
	if err != nil {
		m.logger.Error("reconcile", "kind", kind, "key", key, "err", err, "retry_in", delay)
	}
	if delay > 0 {
		m.after(delay, func() { l.queue.add(item) })
	}
}

// backoff is the delay before the retry that follows the n-th failure in a row.
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// load reads the record a reconciler works on, with its revision: found is false once it is gone, and a
// record that does not decode is a Terminal error.
func load[T any](ctx context.Context, st store.Store, kind, key string) (v *T, rev int64, found bool, err error) {
	v, obj, err := resource.Load[T](ctx, st, kind, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, 0, false, nil
	case err != nil && obj.Value != nil:
		return nil, 0, true, Terminal(err)
	}
	return v, obj.Revision, err == nil, err
}

// soon adapts a reconciler that reports only whether to look again soon (engines still settling).
func soon(f func(ctx context.Context, key string) (bool, error)) reconcileFunc {
	return func(ctx context.Context, key string) (Result, error) {
		again, err := f(ctx, key)
		if again {
			return Result{RequeueAfter: settleInterval}, err
		}
		return Result{}, err
	}
}
