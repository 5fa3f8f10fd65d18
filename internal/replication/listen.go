package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// Listen makes n listen on addrs, in that order, on its port: the first is its own address (replication
// and cluster bus connections leave from it), another can be a group's primary endpoint, which moves with the
// primary role. A listener n gives up takes with it the connections clients made through it (CLIENT KILL
// LADDR), as a moved endpoint drops them on ElastiCache; connections through the addresses it keeps stay. An
// engine already listening on addrs is left alone. Valkey and Redis OSS 7 change their listeners at run time
// (CONFIG SET bind); an address another engine still listens on is refused, and nothing changes.
func Listen(ctx context.Context, n resp.Node, addrs []string) error {
	_, port, err := net.SplitHostPort(n.Addr)
	if err != nil {
		return err
	}
	c, err := dial(ctx, n)
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Do(ctx, "CONFIG", "GET", "bind", "cluster-announce-ip")
	if err != nil {
		return fmt.Errorf("CONFIG GET bind: %w", err)
	}
	got := map[string]string{}
	for i := 0; i+1 < len(v.Elems); i += 2 {
		got[v.Elems[i].Str] = v.Elems[i+1].Str
	}
	bind, ok := got["bind"]
	if !ok {
		return fmt.Errorf("CONFIG GET bind: no bind in the reply")
	}
	current := strings.Fields(bind)
	// A cluster bus at an address of its own (a warm engine's, see driver/process) keeps its listener there
	// too: the other nodes replicate from it through that address.
	if bus := got["cluster-announce-ip"]; bus != "" && slices.Contains(current, bus) && !slices.Contains(addrs, bus) {
		addrs = append(slices.Clone(addrs), bus)
	}
	if slices.Equal(current, addrs) {
		return nil
	}
	if err := rebind(ctx, c, n, addrs); err != nil {
		return err
	}
	for _, a := range current {
		if !slices.Contains(addrs, a) {
			if _, err := c.Do(ctx, "CLIENT", "KILL", "LADDR", net.JoinHostPort(a, port)); err != nil {
				return fmt.Errorf("CLIENT KILL LADDR %s: %w", a, err)
			}
		}
	}
	return nil
}

// rebind sets the engine's listeners to addrs. The engine closes its listeners and opens the new ones. An
// address held by another program is refused, and the engine goes back to its listeners. But while a child
// it forked holds copies of them (a BGSAVE, the dataset transfer of a full sync) the address it listens on
// already is refused too, and so is the way back: the engine then listens nowhere until a CONFIG SET
// succeeds. So rebind waits for no child first, and when the engine is left listening nowhere anyway (a child
// forked in between: nothing answers at n's own address) it asks again on the connection it still has, every
// 20 ms, until the child is gone.
func rebind(ctx context.Context, c *resp.Conn, n resp.Node, addrs []string) error {
	list := strings.Join(addrs, " ")
	for ctx.Err() == nil {
		if busy, err := forkBusy(ctx, c); err != nil || !busy {
			break
		}
		_ = sleep(ctx, pollInterval)
	}
	for {
		_, err := c.Do(ctx, "CONFIG", "SET", "bind", list)
		var refused resp.Error
		if err == nil || !errors.As(err, &refused) || listening(ctx, n) {
			return err
		}
		if serr := sleep(ctx, pollInterval); serr != nil {
			return fmt.Errorf("CONFIG SET bind %s: %w", list, err)
		}
	}
}

// listening reports whether n takes connections at its own address: it answers PING on a new connection.
// A connection alone proves nothing: a forked child's copy of a listener the engine has closed accepts it,
// and nobody answers.
func listening(ctx context.Context, n resp.Node) bool {
	c, err := resp.Dial(ctx, n, resp.Options{ReadTimeout: listenProbeTimeout})
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Do(ctx, "PING")
	return err == nil
}

// listenProbeTimeout bounds the wait for the PING of listening.
const listenProbeTimeout = 500 * time.Millisecond

// forkBusy reports whether the engine has a forked child (INFO persistence).
func forkBusy(ctx context.Context, c *resp.Conn) (bool, error) {
	info, err := resp.String(c.Do(ctx, "INFO", "persistence"))
	if err != nil {
		return false, err
	}
	for _, field := range []string{"rdb_bgsave_in_progress:1", "aof_rewrite_in_progress:1", "module_fork_in_progress:1"} {
		if strings.Contains(info, field) {
			return true, nil
		}
	}
	return false, nil
}
