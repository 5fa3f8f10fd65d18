package durable

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/txlog"
)

// maxInFlight bounds the bytes sent to the log and not yet committed: past it, the shipper stops reading
// the primary's stream (the primary keeps it in its replication buffer).
const maxInFlight = 8 << 20

// framesInFlight bounds the appends sent and not answered. What is added meanwhile waits and goes as one
// append: on two shared cores fewer, larger log entries commit more writes than many small ones, and a
// few in flight keep the log busy while an answer travels.
const framesInFlight = 2

// appender keeps a shipper's appends in flight over an append stream to the log's leader (txlog.Pipeline):
// chunks are sent without waiting for the ones before to commit (up to framesInFlight, the rest merged into
// the next append), and committed is called for each append, in order, once the log has it. When the
// stream breaks (the leader changed, or a replica went) the appends not answered are sent again, in order,
// on a new one: the log takes one it already has as a duplicate. A refusal (the epoch was fenced, a gap)
// ends it.
type appender struct {
	log       *txlog.Client
	epoch     uint64
	committed func(n int)
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	kick      chan struct{} // something may be sendable

	mu      sync.Mutex
	cond    *sync.Cond
	p       *txlog.Pipeline // nil while reconnecting
	queue   [][]byte        // appends not answered yet, oldest first; queue[0] starts at base
	base    uint64
	bytes   int    // in queue
	sent    int    // appends of queue sent on p
	sentEnd uint64 // the offset after them
	fixed   int    // appends of queue sent on some stream: their bounds stay, so a resend is a duplicate
	err     error  // why the appender ended

	// linger, when set and above zero, is how long what was added may wait to be sent, so that more goes in
	// one append (lingerBytes sends it at once).
	linger      func() time.Duration
	unsentSince time.Time // when the oldest chunk not sent on any stream was added
	lingering   bool      // a kick is due when the linger ends
}

// lingerBytes ends a linger early: that much waiting is worth an append.
const lingerBytes = 256 << 10

func newAppender(ctx context.Context, log *txlog.Client, epoch, offset uint64, linger func() time.Duration, committed func(n int)) *appender {
	a := &appender{log: log, epoch: epoch, committed: committed, base: offset, linger: linger, done: make(chan struct{}), kick: make(chan struct{}, 1)}
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.cond = sync.NewCond(&a.mu)
	go a.run()
	return a
}

// add appends data (which the appender keeps) after what was added before. It waits while maxInFlight
// bytes are not committed, and returns why the appender ended, if it did.
func (a *appender) add(data []byte) error {
	a.mu.Lock()
	for a.err == nil && a.bytes > 0 && a.bytes+len(data) > maxInFlight {
		a.cond.Wait()
	}
	if a.err != nil {
		a.mu.Unlock()
		return a.err
	}
	if len(a.queue) == a.fixed {
		a.unsentSince = time.Now()
	}
	a.queue = append(a.queue, data)
	a.bytes += len(data)
	a.mu.Unlock()
	a.signal()
	return nil
}

func (a *appender) signal() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// sender sends on p whatever may go, each time it is kicked, until stop.
func (a *appender) sender(p *txlog.Pipeline, stop <-chan struct{}) {
	for {
		select {
		case <-a.kick:
		case <-stop:
			return
		}
		if !a.flush(p) {
			p.Close() // run notices, and opens another stream
			return
		}
	}
}

// flush sends on p the appends not sent on it yet, up to framesInFlight, merging what waits into one; it
// reports false when a send failed.
func (a *appender) flush(p *txlog.Pipeline) bool {
	for {
		a.mu.Lock()
		if a.p != p || a.sent >= framesInFlight || a.sent >= len(a.queue) {
			a.mu.Unlock()
			return true
		}
		if a.sent >= a.fixed && a.lingers() {
			a.mu.Unlock()
			return true
		}
		if a.sent >= a.fixed && len(a.queue)-a.sent > 1 {
			a.queue = append(a.queue[:a.sent], bytes.Join(a.queue[a.sent:], nil))
		}
		data, off := a.queue[a.sent], a.sentEnd
		a.sent++
		a.fixed = max(a.fixed, a.sent)
		a.sentEnd += uint64(len(data))
		a.mu.Unlock()
		if err := p.Send(a.epoch, off, data); err != nil {
			return false
		}
	}
}

// lingers reports whether what waits to be sent (never sent yet) should wait longer, arranging a kick for
// when it should not. The caller holds mu.
func (a *appender) lingers() bool {
	if a.linger == nil {
		return false
	}
	wait := a.linger() - time.Since(a.unsentSince)
	if wait <= 0 || a.unsentBytes() >= lingerBytes {
		return false
	}
	if !a.lingering {
		a.lingering = true
		time.AfterFunc(wait, func() {
			a.mu.Lock()
			a.lingering = false
			a.mu.Unlock()
			a.signal()
		})
	}
	return true
}

// unsentBytes are the bytes of the chunks never sent. The caller holds mu.
func (a *appender) unsentBytes() int {
	n := 0
	for _, c := range a.queue[a.fixed:] {
		n += len(c)
	}
	return n
}

// close stops the appender and waits for it.
func (a *appender) close() {
	a.cancel()
	a.mu.Lock()
	if a.p != nil {
		a.p.Close()
	}
	a.mu.Unlock()
	<-a.done
}

func (a *appender) fail(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.cond.Broadcast()
	a.mu.Unlock()
}

// run opens streams and reads their answers until the appender ends.
func (a *appender) run() {
	defer close(a.done)
	for a.ctx.Err() == nil {
		p, err := a.log.OpenPipeline(a.ctx)
		if err != nil {
			a.fail(err)
			return
		}
		a.mu.Lock()
		a.p, a.sent, a.sentEnd = p, 0, a.base
		a.mu.Unlock()
		// What was not answered goes again while the answers are read: neither side waits for the other.
		stop := make(chan struct{})
		go a.sender(p, stop)
		a.signal()
		err = a.receive(p)
		close(stop)
		a.mu.Lock()
		a.p = nil
		a.mu.Unlock()
		p.Close()
		if errors.Is(err, txlog.ErrStaleEpoch) || errors.Is(err, txlog.ErrGap) || errors.Is(err, txlog.ErrOverlap) {
			a.fail(err)
			return
		}
	}
	a.fail(a.ctx.Err())
}

// receive takes the answers of one stream until it breaks.
func (a *appender) receive(p *txlog.Pipeline) error {
	for {
		if _, err := p.Receive(); err != nil {
			return err
		}
		a.mu.Lock()
		if len(a.queue) == 0 || a.sent == 0 {
			a.mu.Unlock()
			return errors.New("durable: an answer to no append")
		}
		n := len(a.queue[0])
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.base += uint64(n)
		a.bytes -= n
		a.sent--
		a.fixed--
		a.cond.Broadcast()
		a.mu.Unlock()
		a.committed(n)
		a.signal()
	}
}
