package store

import (
	"context"
	"sync"
)

// hub fans committed events out to watchers. publish never blocks: each
// watcher has a bounded queue drained by its own goroutine, and a queue that
// would overflow is replaced by a single Resync event.
type hub struct {
	buffer int

	mu     sync.Mutex
	subs   map[*watcher]struct{}
	closed bool
}

type watcher struct {
	max  int
	wake chan struct{} // capacity 1; signalled when the queue grows
	stop chan struct{} // closed when the store closes
	out  chan Event

	mu    sync.Mutex
	queue []Event
}

func newHub(buffer int) *hub {
	return &hub{buffer: buffer, subs: make(map[*watcher]struct{})}
}

// subscribe registers a watcher that receives every event published after
// it returns.
func (h *hub) subscribe(ctx context.Context) <-chan Event {
	w := &watcher{
		max:  h.buffer,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		out:  make(chan Event),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(w.out)
		return w.out
	}
	h.subs[w] = struct{}{}
	h.mu.Unlock()
	go h.run(ctx, w)
	return w.out
}

func (h *hub) run(ctx context.Context, w *watcher) {
	defer func() {
		h.mu.Lock()
		delete(h.subs, w)
		h.mu.Unlock()
		w.mu.Lock()
		clear(w.queue)
		w.queue = nil
		w.mu.Unlock()
		close(w.out)
	}()
	for {
		ev, ok := w.pop()
		if !ok {
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			}
		}
		select {
		case w.out <- ev:
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		}
	}
}

// publish queues the events of one commit, in order, for every watcher.
// The caller serialises publish calls in commit order.
func (h *hub) publish(rev int64, events []Event) {
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		w.push(rev, events)
	}
}

// close stops every watcher; their channels are closed by their goroutines.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for w := range h.subs {
		close(w.stop)
	}
	clear(h.subs)
}

func (w *watcher) push(rev int64, events []Event) {
	w.mu.Lock()
	for _, ev := range events {
		if len(w.queue) >= w.max {
			// Drop the backlog, including the rest of this commit: the
			// receiver re-reads the state after the Resync, which covers
			// everything up to and including this commit.
			clear(w.queue)
			w.queue = append(w.queue[:0], Event{Type: Resync, Object: Object{Revision: rev}})
			break
		}
		w.queue = append(w.queue, Event{Type: ev.Type, Object: cloneObject(ev.Object)})
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) pop() (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Event{}, false
	}
	ev := w.queue[0]
	w.queue[0] = Event{}
	w.queue = w.queue[1:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	return ev, true
}
