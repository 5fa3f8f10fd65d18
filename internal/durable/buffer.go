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

// durabilityBuffer follows, on an async primary, the writes answered before the log has them. The endpoint
// notes when it answers writes (wrote); every few milliseconds a sample asks the primary its replication
// offset, which covers every write answered before, and the offset the shipper (its one replica)
// acknowledged, which the log has. Writes leave the buffer once the log has their sample's offset; the
// buffer's age is that of its oldest write.
type durabilityBuffer struct {
	mu        sync.Mutex
	pending   []bufferedWrite // sampled, not logged yet: oldest first, offsets increasing
	unsampled time.Time       // the first write answered since the last sample (zero: none)
	acked     uint64          // the log's offset as the primary last reported it

	refused  atomic.Uint64 // write commands refused because the buffer was too old
	refusing atomic.Bool   // the last write batch was refused
}

// bufferedWrite is a sample: the primary's offset, and when the first write it covers was answered.
type bufferedWrite struct {
	offset uint64
	at     time.Time
}

// wrote notes a write answered at at.
func (d *durabilityBuffer) wrote(at time.Time) {
	d.mu.Lock()
	if d.unsampled.IsZero() {
		d.unsampled = at
	}
	d.mu.Unlock()
}

// takeUnsampled starts a sample: it returns when the first write answered since the last one was (zero:
// none), which the sample covers.
func (d *durabilityBuffer) takeUnsampled() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	at := d.unsampled
	d.unsampled = time.Time{}
	return at
}

// putBack returns to the next sample the writes of one that failed.
func (d *durabilityBuffer) putBack(at time.Time) {
	if at.IsZero() {
		return
	}
	d.mu.Lock()
	if d.unsampled.IsZero() || at.Before(d.unsampled) {
		d.unsampled = at
	}
	d.mu.Unlock()
}

// sample records what the primary said (its offset and the log's) for the writes answered since at (zero:
// none). A primary without its shipper (no replica) reports no log offset: every write stays pending.
func (d *durabilityBuffer) sample(at time.Time, primary, logged uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acked = max(d.acked, logged)
	i := 0
	for i < len(d.pending) && d.pending[i].offset <= d.acked {
		i++
	}
	d.pending = d.pending[i:]
	if at.IsZero() || primary <= d.acked {
		return
	}
	if n := len(d.pending); n > 0 && primary <= d.pending[n-1].offset {
		return // covered by an earlier sample, whose writes are older
	}
	d.pending = append(d.pending, bufferedWrite{offset: primary, at: at})
}

// age is how long the oldest write not known to be logged has waited.
func (d *durabilityBuffer) age(now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	oldest := d.unsampled
	if len(d.pending) > 0 {
		oldest = d.pending[0].at
	}
	if oldest.IsZero() {
		return 0
	}
	return now.Sub(oldest)
}

// clear forgets every pending write: the node is no longer an async primary (or was never one).
func (d *durabilityBuffer) clear() {
	d.mu.Lock()
	d.pending, d.unsampled, d.acked = nil, time.Time{}, 0
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
