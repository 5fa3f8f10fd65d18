package durable

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// DefaultWindow is how old the oldest write acknowledged and not yet logged may grow on an async primary
// before it refuses writes (ElastiCache's durability buffer: 10 seconds).
const DefaultWindow = 10 * time.Second

// durabilityBuffer follows, on an async primary, the writes acknowledged before the log has them: for each
// write batch, the primary's replication offset once it ran and when. The shipper acknowledges to the
// primary the offset the log has, so the primary's ROLE, asked after each write batch, tells both sides:
// the write's offset and the log's. The buffer's age is that of its oldest write.
type durabilityBuffer struct {
	mu      sync.Mutex
	pending []bufferedWrite // oldest first, offsets increasing
	acked   uint64          // the log's offset as the primary last reported it

	refused  atomic.Uint64 // write commands refused because the buffer was too old
	refusing atomic.Bool   // the last write batch was refused
}

type bufferedWrite struct {
	offset uint64
	at     time.Time
}

// note records what a ROLE asked after a write batch (at `at`) said: the primary's offset and the log's.
// A primary without its shipper (no replica) keeps every write pending.
func (d *durabilityBuffer) note(primary, logged uint64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pop(logged)
	if primary > d.acked && (len(d.pending) == 0 || primary > d.pending[len(d.pending)-1].offset) {
		d.pending = append(d.pending, bufferedWrite{offset: primary, at: at})
	}
}

// logged forgets the writes the log has up to offset (what the primary reports its replica acknowledged).
func (d *durabilityBuffer) logged(offset uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pop(offset)
}

// pop forgets the writes up to offset. The caller holds mu.
func (d *durabilityBuffer) pop(offset uint64) {
	d.acked = max(d.acked, offset)
	i := 0
	for i < len(d.pending) && d.pending[i].offset <= d.acked {
		i++
	}
	d.pending = d.pending[i:]
}

// age is how long the oldest write not known to be logged has waited.
func (d *durabilityBuffer) age(now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return 0
	}
	return now.Sub(d.pending[0].at)
}

// clear forgets every pending write: the node is no longer an async primary (or was never one).
func (d *durabilityBuffer) clear() {
	d.mu.Lock()
	d.pending, d.acked = nil, 0
	d.mu.Unlock()
	d.refusing.Store(false)
}

// parseRole reads a primary's ROLE reply: its replication offset and the offset its one replica (the
// shipper) acknowledged, 0 when it has none. ok is false for another role.
func parseRole(v resp.Value) (primary, logged uint64, ok bool) {
	if len(v.Elems) < 3 || v.Elems[0].Str != "master" || v.Elems[1].Type != resp.Integer {
		return 0, 0, false
	}
	for _, r := range v.Elems[2].Elems {
		if len(r.Elems) >= 3 {
			if off, err := strconv.ParseUint(r.Elems[2].Str, 10, 64); err == nil {
				logged = max(logged, off)
			}
		}
	}
	return uint64(v.Elems[1].Int), logged, true
}

// DurabilityStats are the durability metrics of a node's endpoint (ElastiCache's CloudWatch names).
type DurabilityStats struct {
	// DurabilityLag is the age of the oldest write acknowledged and not yet in the log (0 when sync).
	DurabilityLag time.Duration
	// DurabilityBufferExceededErrorCount counts the write commands refused because it was over the window.
	DurabilityBufferExceededErrorCount uint64
	// TrafficManagementActive is true while writes are being refused.
	TrafficManagementActive bool
}

var roleCommand = resp.AppendCommand(nil, "ROLE")

var discardCommand = resp.AppendCommand(nil, "DISCARD")
