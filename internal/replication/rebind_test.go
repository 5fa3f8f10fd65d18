package replication

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/resp/resptest"
)

// TestRebindWaitsForAnAnsweringEngine: a CONFIG SET bind refused while a forked child held copies of the
// engine's listeners leaves the engine listening nowhere, while connections to its address are still
// accepted (by the child's copies). rebind must take that for "not listening" and ask again, not give up as
// if another program held the address.
func TestRebindWaitsForAnAnsweringEngine(t *testing.T) {
	var refusals atomic.Int32
	engine := resptest.Serve(t, func(c net.Conn) {
		r := resp.NewReader(c, 0)
		w := bufio.NewWriter(c)
		for {
			v, err := r.ReadValue()
			if err != nil {
				return
			}
			var args []string
			for _, e := range v.Elems {
				args = append(args, strings.ToUpper(e.Str))
			}
			switch {
			case len(args) >= 3 && args[0] == "CONFIG" && args[1] == "SET":
				if refusals.Add(1) <= 3 {
					fmt.Fprint(w, "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n")
				} else {
					fmt.Fprint(w, "+OK\r\n")
				}
			case len(args) >= 1 && args[0] == "INFO":
				body := "# Persistence\r\nrdb_bgsave_in_progress:0\r\n"
				fmt.Fprintf(w, "$%d\r\n%s\r\n", len(body), body)
			default:
				fmt.Fprint(w, "+PONG\r\n")
			}
			w.Flush()
		}
	})
	c, err := resp.Dial(t.Context(), resp.Node{Addr: engine}, resp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The engine's own address: accepted, never answered.
	own := resp.Node{Addr: resptest.HungAddr(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := rebind(ctx, c, own, []string{"127.0.0.1"}); err != nil {
		t.Fatalf("rebind gave up after %d refusals: %v", refusals.Load(), err)
	}
	if got := refusals.Load(); got != 4 {
		t.Errorf("CONFIG SET bind sent %d times, want 4 (3 refused, then accepted)", got)
	}
}
