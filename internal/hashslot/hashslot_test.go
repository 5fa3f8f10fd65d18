package hashslot

import (
	"reflect"
	"testing"
)

// slotsCovered counts how many times each slot appears in assignment.
func slotsCovered(assignment [][]Range) []int {
	seen := make([]int, NumSlots)
	for _, rs := range assignment {
		for _, r := range rs {
			for s := r.Start; s <= r.End; s++ {
				seen[s]++
			}
		}
	}
	return seen
}

func TestEvenSlots(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 90, 500, NumSlots} {
		t.Run("", func(t *testing.T) {
			got := Even(n)
			if len(got) != n {
				t.Fatalf("Even(%d) has %d shards, want %d", n, len(got), n)
			}
			for s, c := range slotsCovered(got) {
				if c != 1 {
					t.Fatalf("Even(%d): slot %d covered %d times, want 1", n, s, c)
				}
			}
			lo, hi := NumSlots, 0
			for i, rs := range got {
				if len(rs) != 1 {
					t.Fatalf("Even(%d): shard %d has %d ranges, want 1", n, i, len(rs))
				}
				lo, hi = min(lo, rs[0].Len()), max(hi, rs[0].Len())
			}
			if hi-lo > 1 {
				t.Errorf("Even(%d): shard sizes %d..%d, want within 1", n, lo, hi)
			}
		})
	}
	t.Run("three", func(t *testing.T) {
		got := Even(3)
		want := [][]Range{{{0, 5461}}, {{5462, 10922}}, {{10923, 16383}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Even(3) = %v, want %v", got, want)
		}
	})
	for _, n := range []int{-1, 0, NumSlots + 1} {
		if got := Even(n); got != nil {
			t.Errorf("Even(%d) = %v, want nil", n, got)
		}
	}
}

func TestParseSlots(t *testing.T) {
	tests := []struct {
		in      string
		want    []Range
		wantErr bool
	}{
		{in: "0-5460,5461", want: []Range{{0, 5460}, {5461, 5461}}},
		{in: "0-16383", want: []Range{{0, 16383}}},
		{in: "10923-16383,0-100", want: []Range{{10923, 16383}, {0, 100}}},
		{in: " 1 - 2 , 7 ", want: []Range{{1, 2}, {7, 7}}},
		{in: "", want: nil},
		{in: "16384", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "5-3", wantErr: true},
		{in: "a-b", wantErr: true},
		{in: "1,,2", wantErr: true},
		{in: "0-10,5-20", wantErr: true},
		{in: "3,3", wantErr: true},
		{in: "1-2-3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSlotsRoundTrip(t *testing.T) {
	for _, s := range []string{"0-5460,5461", "0-16383", "7", "10923-16383,0-100,200", ""} {
		t.Run(s, func(t *testing.T) {
			rs, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q): %v", s, err)
			}
			if got := Format(rs); got != s {
				t.Errorf("Format(Parse(%q)) = %q, want %q", s, got, s)
			}
		})
	}
	for n := 1; n <= 6; n++ {
		for i, rs := range Even(n) {
			got, err := Parse(Format(rs))
			if err != nil || !reflect.DeepEqual(got, rs) {
				t.Errorf("Parse(Format(Even(%d)[%d])) = %v, %v, want %v", n, i, got, err, rs)
			}
		}
	}
}

// apply runs a plan against an assignment, failing when a move takes a slot from a shard that does not hold it.
func apply(t *testing.T, current [][]Range, moves []Move) []int {
	t.Helper()
	own := owners(current)
	for _, m := range moves {
		for s := m.Slots.Start; s <= m.Slots.End; s++ {
			if own[s] != m.From {
				t.Fatalf("move %v: slot %d is held by %d", m, s, own[s])
			}
			own[s] = m.To
		}
	}
	return own
}

func moved(moves []Move) int {
	n := 0
	for _, m := range moves {
		n += m.Slots.Len()
	}
	return n
}

func differing(a, b [][]Range) int {
	oa, ob := owners(a), owners(b)
	n := 0
	for s := range oa {
		if oa[s] >= 0 && ob[s] >= 0 && oa[s] != ob[s] {
			n++
		}
	}
	return n
}

func TestPlanMoves(t *testing.T) {
	tests := []struct {
		name      string
		current   [][]Range
		target    [][]Range
		wantMoved int
	}{
		{"same", Even(3), Even(3), 0},
		{"even 3 to balanced 4", Even(3), Balance(Even(3), 4), 4096},
		{"even 4 to balanced 3", Even(4), Balance(Even(4), 3), 4096},
		{"balanced 4 back to 3", Balance(Even(3), 4), Balance(Balance(Even(3), 4), 3), 4096},
		{"even 3 to even 4", Even(3), Even(4), differing(Even(3), Even(4))},
		{"even 4 to even 3", Even(4), Even(3), differing(Even(4), Even(3))},
		{"1 to balanced 2", Even(1), Balance(Even(1), 2), 8192},
		{"single slot", [][]Range{{{0, 9}}, {{10, 20}}}, [][]Range{{{0, 8}}, {{9, 20}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanMoves(tt.current, tt.target)
			if got := moved(plan); got != tt.wantMoved {
				t.Errorf("moved %d slots, want %d (plan %v)", got, tt.wantMoved, plan)
			}
			got, want := apply(t, tt.current, plan), owners(tt.target)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("applying the plan does not reach the target")
			}
			for i := 1; i < len(plan); i++ {
				if plan[i].Slots.Start <= plan[i-1].Slots.End {
					t.Errorf("moves %v and %v are out of order or overlap", plan[i-1], plan[i])
				}
			}
		})
	}
	t.Run("even 3 to even 4 keeps the untouched slots", func(t *testing.T) {
		plan := PlanMoves(Even(3), Even(4))
		want := []Move{
			{Slots: Range{4096, 5461}, From: 0, To: 1},
			{Slots: Range{8192, 10922}, From: 1, To: 2},
			{Slots: Range{12288, 16383}, From: 2, To: 3},
		}
		if !reflect.DeepEqual(plan, want) {
			t.Errorf("PlanMoves(Even(3), Even(4)) = %v, want %v", plan, want)
		}
	})
}

func TestBalance(t *testing.T) {
	tests := []struct {
		name     string
		current  [][]Range
		shards   int
		wantMove int
	}{
		{"3 to 4", Even(3), 4, 4096},
		{"4 to 3", Even(4), 3, 4096},
		{"3 to 3", Even(3), 3, 0},
		{"3 to 6", Even(3), 6, 8191},
		{"lopsided 2", [][]Range{{{0, 16000}}, {{16001, 16383}}}, 2, 16001 - 8192},
		{"partial", [][]Range{{{0, 99}}}, 2, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Balance(tt.current, tt.shards)
			if len(got) != tt.shards {
				t.Fatalf("%d shards, want %d", len(got), tt.shards)
			}
			before, after := slotsCovered(tt.current), slotsCovered(got)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("Balance changed which slots are assigned")
			}
			lo, hi := NumSlots, 0
			for _, rs := range got {
				lo, hi = min(lo, Count(rs)), max(hi, Count(rs))
			}
			if hi-lo > 1 {
				t.Errorf("shard sizes %d..%d, want within 1", lo, hi)
			}
			if m := moved(PlanMoves(tt.current, got)); m != tt.wantMove {
				t.Errorf("moves %d slots, want %d", m, tt.wantMove)
			}
		})
	}
	if got := Balance(Even(3), 0); got != nil {
		t.Errorf("Balance(_, 0) = %v, want nil", got)
	}
}
