package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp/resptest"

	"github.com/ecache/ecache/internal/resp"
)

func TestParseInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    State
		wantErr bool
	}{
		{
			name: "redis primary with replicas",
			in: "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
				"slave0:ip=127.0.0.1,port=47001,state=online,offset=1234,lag=0\r\n" +
				"slave1:ip=127.0.0.1,port=47002,state=wait_bgsave,offset=0,lag=3\r\n" +
				"master_failover_state:no-failover\r\nmaster_replid:aaaa\r\nmaster_replid2:0000\r\n" +
				"master_repl_offset:1234\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\n",
			want: State{Role: RolePrimary, Offset: 1234, ReplID: "aaaa", ConnectedReplicas: []ReplicaInfo{
				{Addr: "127.0.0.1:47001", State: "online", Offset: 1234},
				{Addr: "127.0.0.1:47002", State: "wait_bgsave", Lag: 3 * time.Second},
			}},
		},
		{
			name: "valkey primary with an rdb channel",
			in: "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
				"slave0:ip=127.0.0.1,port=47001,state=online,offset=99,lag=1,type=replica\r\n" +
				"slave1:ip=127.0.0.1,port=47002,state=wait_bgsave,offset=0,lag=0,type=rdb-channel\r\n" +
				"replicas_waiting_psync:1\r\nmaster_replid:bbbb\r\nmaster_repl_offset:99\r\n",
			want: State{Role: RolePrimary, Offset: 99, ReplID: "bbbb", ConnectedReplicas: []ReplicaInfo{
				{Addr: "127.0.0.1:47001", State: "online", Offset: 99, Lag: time.Second},
			}},
		},
		{
			name: "replica link up",
			in: "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:47000\r\n" +
				"master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n" +
				"slave_read_repl_offset:560\r\nslave_repl_offset:555\r\nslave_priority:100\r\n" +
				"connected_slaves:0\r\nmaster_replid:cccc\r\nmaster_repl_offset:555\r\n",
			want: State{Role: RoleReplica, MasterAddr: "127.0.0.1:47000", LinkUp: true, Offset: 555, ReplID: "cccc"},
		},
		{
			name: "replica syncing",
			in: "role:slave\nmaster_host:::1\nmaster_port:47000\nmaster_link_status:down\n" +
				"master_sync_in_progress:1\nslave_repl_offset:1\nmaster_repl_offset:0\n",
			want: State{Role: RoleReplica, MasterAddr: "[::1]:47000", SyncInProgress: true, Offset: 1},
		},
		{
			name: "role replica spelling",
			in:   "role:replica\r\nmaster_host:h\r\nmaster_port:1\r\nmaster_repl_offset:7\r\n",
			want: State{Role: RoleReplica, MasterAddr: "h:1", Offset: 7},
		},
		{name: "no role", in: "# Replication\r\nmaster_repl_offset:7\r\n", wantErr: true},
		{name: "unknown role", in: "role:sentinel\r\n", wantErr: true},
		{name: "bad offset", in: "role:master\r\nmaster_repl_offset:x\r\n", wantErr: true},
		{name: "bad replica line", in: "role:master\r\nslave0:state=online\r\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseInfo(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseInfo = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseInfo: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseInfo =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestUnreachable runs every function against an address that refuses connections and one that accepts them
// and never answers: each returns an error, resp.ErrUnreachable or the context's, instead of blocking.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	dead, hung := resptest.DeadAddr(t), resptest.HungAddr(t)
	other := resp.Node{Addr: resptest.DeadAddr(t)}
	calls := []struct {
		name string
		f    func(ctx context.Context, n resp.Node) error
	}{
		{"Inspect", func(ctx context.Context, n resp.Node) error { _, err := Inspect(ctx, n); return err }},
		{"Attach", func(ctx context.Context, n resp.Node) error { return Attach(ctx, n, other) }},
		{"Detach", func(ctx context.Context, n resp.Node) error { return Detach(ctx, n) }},
		{"WaitSynced", func(ctx context.Context, n resp.Node) error { return WaitSynced(ctx, n, n) }},
		{"MostUpToDate", func(ctx context.Context, n resp.Node) error {
			_, _, err := MostUpToDate(ctx, []resp.Node{n, n})
			return err
		}},
		{"Promote", func(ctx context.Context, n resp.Node) error { return Promote(ctx, n, nil, []resp.Node{other}) }},
		{"PromotePlanned", func(ctx context.Context, n resp.Node) error { return Promote(ctx, n, &other, nil) }},
		{"PromoteFromHungPrimary", func(ctx context.Context, n resp.Node) error { return Promote(ctx, other, &n, nil) }},
		{"WaitForReplicas", func(ctx context.Context, n resp.Node) error {
			_, err := WaitForReplicas(ctx, n, 1, time.Second)
			return err
		}},
	}
	for _, target := range []struct {
		name    string
		node    resp.Node
		timeout time.Duration // of the caller's context
		want    []error       // any of
	}{
		{"refused", resp.Node{Addr: dead}, 5 * time.Second, []error{resp.ErrUnreachable}},
		{"hung", resp.Node{Addr: hung}, 300 * time.Millisecond, []error{context.DeadlineExceeded, resp.ErrUnreachable}},
		{"hung without deadline", resp.Node{Addr: hung}, 0, []error{resp.ErrUnreachable}},
		{"hung tls", resp.Node{Addr: hung, TLS: &tls.Config{MinVersion: tls.VersionTLS12}}, 300 * time.Millisecond, []error{context.DeadlineExceeded, resp.ErrUnreachable}},
	} {
		for _, call := range calls {
			t.Run(target.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				if call.name == "WaitSynced" && target.timeout == 0 {
					t.Skip("WaitSynced polls until its context ends")
				}
				ctx := t.Context()
				want := target.want
				switch {
				case call.name == "WaitSynced":
					ctx = testCtx(t, 500*time.Millisecond)
					want = []error{context.DeadlineExceeded}
				case target.timeout > 0:
					ctx = testCtx(t, target.timeout)
				}
				errc := make(chan error, 1)
				go func() { errc <- call.f(ctx, target.node) }()
				select {
				case err := <-errc:
					if err == nil || !isAny(err, want) {
						t.Errorf("error = %v, want one of %v", err, want)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("still blocked after 30s")
				}
			})
		}
	}
}

func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
