package clustermode

import (
	"reflect"
	"testing"

	"github.com/ecache/ecache/internal/resp"

	"github.com/ecache/ecache/internal/hashslot"
)

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
	if got, want := v[1].Slots, []hashslot.Range{{Start: 5461, End: 10922}, {Start: 10924, End: 10924}}; !reflect.DeepEqual(got, want) {
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
	states := statesFromNodes(v, resp.Node{Addr: "127.0.0.1:30001"})
	want := []ShardState{
		{PrimaryAddr: "127.0.0.1:30001", PrimaryID: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Slots: []hashslot.Range{{Start: 0, End: 5460}}},
		{PrimaryAddr: "127.0.0.1:30002", PrimaryID: "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", Replicas: []string{"127.0.0.1:30003"}, Slots: []hashslot.Range{{Start: 5461, End: 10922}, {Start: 10924, End: 10924}}},
	}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("statesFromNodes = %+v, want %+v", states, want)
	}
}

// TestParseNodesIPv6: the engines write IPv6 node addresses without brackets.
func TestParseNodesIPv6(t *testing.T) {
	v, err := parseNodes("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca ::1:30001@40001 myself,master - 0 0 1 connected 0-16383\n")
	if err != nil {
		t.Fatal(err)
	}
	if me, _ := v.self(); me.Addr != "[::1]:30001" || me.BusPort != 40001 {
		t.Errorf("self = %+v, want [::1]:30001 with bus port 40001", me)
	}
}

// TestSignatureIgnoresNodesWithoutAddress: a node that knows the old identity of a node met again (noaddr)
// agrees with one that never knew it.
func TestSignatureIgnoresNodesWithoutAddress(t *testing.T) {
	fresh := "aa 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-16383\nbb 127.0.0.1:30002@40002 slave aa 0 0 1 connected\n"
	old := fresh + "cc :0@0 master,noaddr - 1 1 1 disconnected\n"
	a, err := parseNodes(fresh)
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseNodes(old)
	if err != nil {
		t.Fatal(err)
	}
	if signature(a) != signature(b) {
		t.Errorf("signatures differ by a node without address:\n%s\n--\n%s", signature(a), signature(b))
	}
}
