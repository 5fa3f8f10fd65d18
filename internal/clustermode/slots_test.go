package clustermode

import (
	"reflect"
	"testing"
)

// slotsCovered counts how many times each slot appears in assignment.
func slotsCovered(assignment [][]SlotRange) []int {
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
			got := EvenSlots(n)
			if len(got) != n {
				t.Fatalf("EvenSlots(%d) has %d shards, want %d", n, len(got), n)
			}
			for s, c := range slotsCovered(got) {
				if c != 1 {
					t.Fatalf("EvenSlots(%d): slot %d covered %d times, want 1", n, s, c)
				}
			}
			lo, hi := NumSlots, 0
			for i, rs := range got {
				if len(rs) != 1 {
					t.Fatalf("EvenSlots(%d): shard %d has %d ranges, want 1", n, i, len(rs))
				}
				lo, hi = min(lo, rs[0].Len()), max(hi, rs[0].Len())
			}
			if hi-lo > 1 {
				t.Errorf("EvenSlots(%d): shard sizes %d..%d, want within 1", n, lo, hi)
			}
		})
	}
	t.Run("three", func(t *testing.T) {
		got := EvenSlots(3)
		want := [][]SlotRange{{{0, 5461}}, {{5462, 10922}}, {{10923, 16383}}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EvenSlots(3) = %v, want %v", got, want)
		}
	})
	for _, n := range []int{-1, 0, NumSlots + 1} {
		if got := EvenSlots(n); got != nil {
			t.Errorf("EvenSlots(%d) = %v, want nil", n, got)
		}
	}
}

func TestParseSlots(t *testing.T) {
	tests := []struct {
		in      string
		want    []SlotRange
		wantErr bool
	}{
		{in: "0-5460,5461", want: []SlotRange{{0, 5460}, {5461, 5461}}},
		{in: "0-16383", want: []SlotRange{{0, 16383}}},
		{in: "10923-16383,0-100", want: []SlotRange{{10923, 16383}, {0, 100}}},
		{in: " 1 - 2 , 7 ", want: []SlotRange{{1, 2}, {7, 7}}},
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
			got, err := ParseSlots(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSlots(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseSlots(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSlotsRoundTrip(t *testing.T) {
	for _, s := range []string{"0-5460,5461", "0-16383", "7", "10923-16383,0-100,200", ""} {
		t.Run(s, func(t *testing.T) {
			rs, err := ParseSlots(s)
			if err != nil {
				t.Fatalf("ParseSlots(%q): %v", s, err)
			}
			if got := FormatSlots(rs); got != s {
				t.Errorf("FormatSlots(ParseSlots(%q)) = %q, want %q", s, got, s)
			}
		})
	}
	for n := 1; n <= 6; n++ {
		for i, rs := range EvenSlots(n) {
			got, err := ParseSlots(FormatSlots(rs))
			if err != nil || !reflect.DeepEqual(got, rs) {
				t.Errorf("ParseSlots(FormatSlots(EvenSlots(%d)[%d])) = %v, %v, want %v", n, i, got, err, rs)
			}
		}
	}
}

// apply runs a plan against an assignment, failing when a move takes a slot from a shard that does not hold it.
func apply(t *testing.T, current [][]SlotRange, moves []Move) []int {
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

func differing(a, b [][]SlotRange) int {
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
		current   [][]SlotRange
		target    [][]SlotRange
		wantMoved int
	}{
		{"same", EvenSlots(3), EvenSlots(3), 0},
		{"even 3 to balanced 4", EvenSlots(3), Balance(EvenSlots(3), 4), 4096},
		{"even 4 to balanced 3", EvenSlots(4), Balance(EvenSlots(4), 3), 4096},
		{"balanced 4 back to 3", Balance(EvenSlots(3), 4), Balance(Balance(EvenSlots(3), 4), 3), 4096},
		{"even 3 to even 4", EvenSlots(3), EvenSlots(4), differing(EvenSlots(3), EvenSlots(4))},
		{"even 4 to even 3", EvenSlots(4), EvenSlots(3), differing(EvenSlots(4), EvenSlots(3))},
		{"1 to balanced 2", EvenSlots(1), Balance(EvenSlots(1), 2), 8192},
		{"single slot", [][]SlotRange{{{0, 9}}, {{10, 20}}}, [][]SlotRange{{{0, 8}}, {{9, 20}}}, 1},
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
		plan := PlanMoves(EvenSlots(3), EvenSlots(4))
		want := []Move{
			{Slots: SlotRange{4096, 5461}, From: 0, To: 1},
			{Slots: SlotRange{8192, 10922}, From: 1, To: 2},
			{Slots: SlotRange{12288, 16383}, From: 2, To: 3},
		}
		if !reflect.DeepEqual(plan, want) {
			t.Errorf("PlanMoves(EvenSlots(3), EvenSlots(4)) = %v, want %v", plan, want)
		}
	})
}

func TestBalance(t *testing.T) {
	tests := []struct {
		name     string
		current  [][]SlotRange
		shards   int
		wantMove int
	}{
		{"3 to 4", EvenSlots(3), 4, 4096},
		{"4 to 3", EvenSlots(4), 3, 4096},
		{"3 to 3", EvenSlots(3), 3, 0},
		{"3 to 6", EvenSlots(3), 6, 8191},
		{"lopsided 2", [][]SlotRange{{{0, 16000}}, {{16001, 16383}}}, 2, 16001 - 8192},
		{"partial", [][]SlotRange{{{0, 99}}}, 2, 50},
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
				lo, hi = min(lo, SlotCount(rs)), max(hi, SlotCount(rs))
			}
			if hi-lo > 1 {
				t.Errorf("shard sizes %d..%d, want within 1", lo, hi)
			}
			if m := moved(PlanMoves(tt.current, got)); m != tt.wantMove {
				t.Errorf("moves %d slots, want %d", m, tt.wantMove)
			}
		})
	}
	if got := Balance(EvenSlots(3), 0); got != nil {
		t.Errorf("Balance(_, 0) = %v, want nil", got)
	}
}

func TestParseNodes(t *testing.T) {
	text := "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@40001,host-a myself,master - 0 0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1] [93-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n" +
		"67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@40002 master - 0 1426238316232 2 connected 5461-10922 10924\n" +
		"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@40003 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238318243 3 connected\n" +
		"6ec23923021cf3ffec47632106199cb7f496ce01 :0@0 master,fail,noaddr - 1426238316232 1426238316232 0 disconnected\n"
	v, err := parseNodes(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 4 {
		t.Fatalf("got %d nodes, want 4", len(v))
	}
	me, ok := v.self()
	if !ok || me.ID != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca" || me.Addr != "127.0.0.1:30001" || me.BusPort != 40001 {
		t.Errorf("self = %+v", me)
	}
	if got, want := me.Migrating[5461], "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"; got != want {
		t.Errorf("migrating[5461] = %q, want %q", got, want)
	}
	if got, want := me.Importing[93], "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"; got != want {
		t.Errorf("importing[93] = %q, want %q", got, want)
	}
	if got, want := v[1].Slots, []SlotRange{{5461, 10922}, {10924, 10924}}; !reflect.DeepEqual(got, want) {
		t.Errorf("slots = %v, want %v", got, want)
	}
	if !v[2].replica() || v[2].MasterID != v[1].ID || v[2].Epoch != 3 {
		t.Errorf("replica = %+v", v[2])
	}
	if !v[3].failed() || v[3].Addr != "" {
		t.Errorf("failed node = %+v", v[3])
	}
	if got := v.owner(10924); got != v[1].ID {
		t.Errorf("owner(10924) = %q, want %q", got, v[1].ID)
	}
	if got := v.owner(10923); got != "" {
		t.Errorf("owner(10923) = %q, want none", got)
	}
	states := statesFromNodes(v, Node{Addr: "127.0.0.1:30001"})
	want := []ShardState{
		{PrimaryAddr: "127.0.0.1:30001", PrimaryID: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Slots: []SlotRange{{0, 5460}}},
		{PrimaryAddr: "127.0.0.1:30002", PrimaryID: "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", Replicas: []string{"127.0.0.1:30003"}, Slots: []SlotRange{{5461, 10922}, {10924, 10924}}},
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("statesFromNodes = %+v, want %+v", states, want)
	}
}
