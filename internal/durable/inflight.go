package durable

import "sync"

// inflight tracks the writes an endpoint has sent to the engine and the log has not yet acknowledged, so
// that a read does not answer with data a failure could take back: a read waits for the unacknowledged
// writes to its keys that were sent before it (to any key when its keys are unknown, and for writes whose
// keys are unknown).
type inflight struct {
	mu    sync.Mutex
	byKey map[string]map[*pendingWrites]struct{}
	all   map[*pendingWrites]struct{}
	wild  map[*pendingWrites]struct{} // writes whose keys are unknown
}

// pendingWrites is one batch's writes on their way into the log.
type pendingWrites struct {
	done   chan struct{}
	keys   []string
	wild   bool
	logged bool // set before done is closed: the log has them (else they may be lost)
}

func newInflight() *inflight {
	return &inflight{byKey: map[string]map[*pendingWrites]struct{}{}, all: map[*pendingWrites]struct{}{}, wild: map[*pendingWrites]struct{}{}}
}

// begin records a batch's writes before it is sent: to keys, or to unknown keys when wild.
func (f *inflight) begin(keys []string, wild bool) *pendingWrites {
	p := &pendingWrites{done: make(chan struct{}), keys: keys, wild: wild}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all[p] = struct{}{}
	if wild {
		f.wild[p] = struct{}{}
	}
	for _, k := range keys {
		set := f.byKey[k]
		if set == nil {
			set = map[*pendingWrites]struct{}{}
			f.byKey[k] = set
		}
		set[p] = struct{}{}
	}
	return p
}

// end records that the log has the batch's writes (logged), or that whether it does is not known: reads
// waiting for them go on.
func (f *inflight) end(p *pendingWrites, logged bool) {
	p.logged = logged
	f.mu.Lock()
	delete(f.all, p)
	delete(f.wild, p)
	for _, k := range p.keys {
		if set := f.byKey[k]; set != nil {
			delete(set, p)
			if len(set) == 0 {
				delete(f.byKey, k)
			}
		}
	}
	f.mu.Unlock()
	close(p.done)
}

// before lists the writes a read of keys (of any key when anyKey) must wait for, adding to dst.
func (f *inflight) before(dst []*pendingWrites, keys []string, anyKey bool) []*pendingWrites {
	f.mu.Lock()
	defer f.mu.Unlock()
	if anyKey {
		for p := range f.all {
			dst = append(dst, p)
		}
		return dst
	}
	for p := range f.wild {
		dst = append(dst, p)
	}
	for _, k := range keys {
		for p := range f.byKey[k] {
			dst = append(dst, p)
		}
	}
	return dst
}

// wait returns once every write in ps is settled: true when the log has them all.
func wait(ps []*pendingWrites) bool {
	ok := true
	for _, p := range ps {
		<-p.done
		ok = ok && p.logged
	}
	return ok
}
