// Package hashslot is the arithmetic of Redis Cluster hash slots: ranges, ElastiCache's even split, the
// NodeGroupConfiguration.Slots syntax and resharding plans. Pure functions, used by internal/service to plan
// shards and by internal/clustermode to drive engines.
package hashslot

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// Range is an inclusive range of hash slots, 0..16383.
type Range struct {
	Start, End int
}

// Len is the number of slots in r (0 for an invalid range).
func (r Range) Len() int {
	if r.End < r.Start {
		return 0
	}
	return r.End - r.Start + 1
}

func (r Range) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

func (r Range) Valid() bool {
	return r.Start >= 0 && r.End < NumSlots && r.Start <= r.End
}

// Even splits the 16384 slots into shards contiguous ranges the way ElastiCache does: shard i gets one
// range, the first 16384%shards shards one slot more (3 shards: 0-5461, 5462-10922, 10923-16383). It returns nil
// when shards is not in 1..16384.
func Even(shards int) [][]Range {
	if shards < 1 || shards > NumSlots {
		return nil
	}
	q, r := NumSlots/shards, NumSlots%shards
	out := make([][]Range, shards)
	start := 0
	for i := range out {
		n := q
		if i < r {
			n++
		}
		out[i] = []Range{{Start: start, End: start + n - 1}}
		start += n
	}
	return out
}

// Parse parses a slot list in the NodeGroupConfiguration.Slots style: comma-separated ranges "a-b" or single
// slots "a", e.g. "0-5460,5461". Ranges keep their order; out-of-range, reversed or overlapping ranges are
// errors. An empty string is an empty list.
func Parse(s string) ([]Range, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []Range
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseSlot(lo)
		if err != nil {
			return nil, fmt.Errorf("slot range %q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = parseSlot(hi); err != nil {
				return nil, fmt.Errorf("slot range %q: %w", part, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("slot range %q: end before start", part)
		}
		out = append(out, Range{Start: a, End: b})
	}
	if err := CheckOverlap(out); err != nil {
		return nil, err
	}
	return out, nil
}

func parseSlot(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= NumSlots {
		return 0, fmt.Errorf("slot %q is not a number in 0..%d", s, NumSlots-1)
	}
	return n, nil
}

func CheckOverlap(rs []Range) error {
	sorted := append([]Range(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Start <= sorted[i-1].End {
			return fmt.Errorf("slot ranges %s and %s overlap", sorted[i-1], sorted[i])
		}
	}
	return nil
}

// Format is the inverse of Parse: "0-5460,5461".
func Format(rs []Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Count is the number of slots in rs (overlaps counted twice).
func Count(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += r.Len()
	}
	return n
}

// Normalize sorts rs and merges overlapping and adjacent ranges.
func Normalize(rs []Range) []Range {
	if len(rs) == 0 {
		return nil
	}
	sorted := append([]Range(nil), rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	out := []Range{sorted[0]}
	for _, r := range sorted[1:] {
		last := &out[len(out)-1]
		if r.Start <= last.End+1 {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Ranges turns a sorted list of slots into ranges.
func Ranges(slots []int) []Range {
	var out []Range
	for _, s := range slots {
		if n := len(out); n > 0 && out[n-1].End == s-1 {
			out[n-1].End = s
			continue
		}
		out = append(out, Range{Start: s, End: s})
	}
	return out
}

// owners maps every slot to the index of the shard that holds it in assignment (-1: nobody). Slots out of
// range are ignored; a slot listed by two shards goes to the later one.
func owners(assignment [][]Range) []int {
	own := make([]int, NumSlots)
	for i := range own {
		own[i] = -1
	}
	for shard, rs := range assignment {
		for _, r := range rs {
			for s := max(r.Start, 0); s <= min(r.End, NumSlots-1); s++ {
				own[s] = shard
			}
		}
	}
	return own
}

// Move is one step of a resharding plan: the slots in Slots go from shard From to shard To (indexes into the
// assignments given to PlanMoves).
type Move struct {
	Slots    Range
	From, To int
}

func (m Move) String() string { return fmt.Sprintf("%s: %d -> %d", m.Slots, m.From, m.To) }

// PlanMoves computes the moves that turn the current assignment into the target one. Shard i of current is
// shard i of target; either side may have more shards (a missing shard holds no slots). Only slots whose owner
// differs move, each once and straight to its final owner, so the plan moves the fewest slots possible for that
// target; slots unassigned on either side are left alone. Moves come in slot order, consecutive slots with the
// same source and destination merged into one range.
func PlanMoves(current, target [][]Range) []Move {
	cur, tgt := owners(current), owners(target)
	var out []Move
	for s := 0; s < NumSlots; s++ {
		from, to := cur[s], tgt[s]
		if from < 0 || to < 0 || from == to {
			continue
		}
		if n := len(out); n > 0 && out[n-1].From == from && out[n-1].To == to && out[n-1].Slots.End == s-1 {
			out[n-1].Slots.End = s
			continue
		}
		out = append(out, Move{Slots: Range{Start: s, End: s}, From: from, To: to})
	}
	return out
}

// Balance computes the even assignment over shards shards that is closest to current: every shard ends with
// an equal share (±1) of the slots current assigns, and the fewest slots change owner. Shards beyond shards in
// current are drained; shards beyond len(current) start empty. A shard over its share keeps its lowest slots
// and gives away its highest; the given-away slots fill the shards under their share in slot order, lowest
// shard first. Slots current leaves unassigned stay unassigned. It returns nil when shards < 1.
//
// Balance is the usual target for scaling out (Balance(current, n+1)) and in (Balance(current, n-1), then
// RemoveShard of the drained shard): it moves only what must move, where Even as a target also slides
// the boundaries of the shards that stay.
func Balance(current [][]Range, shards int) [][]Range {
	if shards < 1 {
		return nil
	}
	own := owners(current)
	held := make([][]int, max(shards, len(current)))
	total := 0
	for s, o := range own {
		if o >= 0 {
			held[o] = append(held[o], s)
			total++
		}
	}
	// Shares: the shards holding the most get the +1s, so fewer slots move.
	order := make([]int, shards)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(held[order[a]]) > len(held[order[b]]) })
	share := make([]int, len(held))
	for rank, i := range order {
		share[i] = total / shards
		if rank < total%shards {
			share[i]++
		}
	}
	var pool []int
	for i := range held {
		if len(held[i]) > share[i] {
			pool = append(pool, held[i][share[i]:]...)
			held[i] = held[i][:share[i]]
		}
	}
	sort.Ints(pool)
	for i := 0; i < shards; i++ {
		need := share[i] - len(held[i])
		if need <= 0 {
			continue
		}
		held[i] = append(held[i], pool[:need]...)
		pool = pool[need:]
		sort.Ints(held[i])
	}
	out := make([][]Range, shards)
	for i := range out {
		out[i] = Ranges(held[i])
	}
	return out
}
