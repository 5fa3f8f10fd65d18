package controller

import (
	"sync"
)

// queue is a set of keys to reconcile. A key is never handed to two workers at once; a key added while
// it is being worked on is handed out again once that work is done.
type queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	pending    []string
	queued     map[string]bool
	processing map[string]bool
	dirty      map[string]bool
	closed     bool
}

func newQueue() *queue {
	q := &queue{queued: map[string]bool{}, processing: map[string]bool{}, dirty: map[string]bool{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add schedules key now.
func (q *queue) add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.processing[key] {
		q.dirty[key] = true
		return
	}
	if !q.queued[key] {
		q.queued[key] = true
		q.pending = append(q.pending, key)
		q.cond.Signal()
	}
}

// get blocks until a key is available; ok is false once the queue is closed.
func (q *queue) get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", false
	}
	key = q.pending[0]
	q.pending = q.pending[1:]
	delete(q.queued, key)
	q.processing[key] = true
	return key, true
}

// done ends work on key, re-queueing it if it was added meanwhile.
func (q *queue) done(key string) {
	q.mu.Lock()
	delete(q.processing, key)
	again := q.dirty[key]
	delete(q.dirty, key)
	q.mu.Unlock()
	if again {
		q.add(key)
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}
