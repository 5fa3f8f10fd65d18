package replication

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestListenMovesAnAddress moves an endpoint address from one engine to another, as a failover moves a
// group's PrimaryEndpoint: the engine that gives it up drops the clients that came through it and keeps
// those of its own address; the other takes it; and an engine with a forked child (a BGSAVE) moves its
// listeners once the child is done instead of being left listening nowhere.
func TestListenMovesAnAddress(t *testing.T) {
	forEachEngine(t, func(t *testing.T, bin string) {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		const own1, own2, endpoint = "127.1.250.1", "127.1.250.2", "127.1.250.9"
		e1 := startEngine(t, bin, engineOpts{bind: own1, port: port})
		e2 := startEngine(t, bin, engineOpts{bind: own2, port: port})
		ep := net.JoinHostPort(endpoint, strconv.Itoa(port))
		ctx := testCtx(t, 30*time.Second)

		if err := Listen(ctx, e1.node, []string{own1, endpoint}); err != nil {
			t.Fatal(err)
		}
		viaEndpoint := redis.NewClient(&redis.Options{Addr: ep, PoolSize: 1, MaxRetries: -1})
		defer viaEndpoint.Close()
		if info, err := viaEndpoint.ClientInfo(ctx).Result(); err != nil || info.LAddr != ep {
			t.Fatalf("through the endpoint: %+v, %v; want a connection at %s", info, err, ep)
		}
		direct := e1.client()
		if err := direct.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}

		if err := Listen(ctx, e1.node, []string{own1}); err != nil {
			t.Fatal(err)
		}
		if err := viaEndpoint.Ping(ctx).Err(); err == nil {
			t.Error("a client of the endpoint kept its connection after the engine gave the address up")
		}
		if err := direct.Ping(ctx).Err(); err != nil {
			t.Errorf("a client of the engine's own address lost its connection: %v", err)
		}
		if err := Listen(ctx, e2.node, []string{own2, endpoint}); err != nil {
			t.Fatal(err)
		}
		moved := redis.NewClient(&redis.Options{Addr: ep})
		defer moved.Close()
		if err := moved.Set(ctx, "on", "e2", 0).Err(); err != nil {
			t.Fatalf("through the endpoint after the move: %v", err)
		}
		if v, err := e2.client().Get(ctx, "on").Result(); err != nil || v != "e2" {
			t.Fatalf("the write through the moved endpoint is not on e2: %q, %v", v, err)
		}

		// A BGSAVE child holds copies of e2's listeners for about a second.
		c2 := e2.client()
		for i := range 50 {
			c2.Set(ctx, "k"+strconv.Itoa(i), i, 0)
		}
		if err := c2.ConfigSet(ctx, "rdb-key-save-delay", "20000").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c2.BgSave(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := Listen(ctx, e2.node, []string{own2}); err != nil {
			t.Fatalf("Listen with a forked child: %v", err)
		}
		if err := e2.client().Ping(ctx).Err(); err != nil {
			t.Fatalf("e2 at its own address after the move: %v", err)
		}
		if err := ping(e1.node); err != nil {
			t.Fatalf("e1: %v", err)
		}
	})
}
