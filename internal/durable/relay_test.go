package durable

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/atrest"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

// newTestShard is a shard on log whose epochs are counted in memory, with sealed checkpoints.
func newTestShard(t *testing.T, log *txlog.Client) *Shard {
	var mu sync.Mutex
	var epoch uint64
	sh := NewShard(ShardConfig{Log: log, Checkpoints: &Checkpoints{Dir: t.TempDir(), Keys: atrest.Key{1, 2, 3}},
		NextEpoch: func(context.Context) (uint64, error) {
			mu.Lock()
			defer mu.Unlock()
			epoch++
			return epoch, nil
		}})
	t.Cleanup(sh.Close)
	return sh
}

// nodeEndpoint is a node's durable endpoint, with the shard's relay.
func nodeEndpoint(t *testing.T, ctx context.Context, engine string, sh *Shard) *Endpoint {
	t.Helper()
	ep, err := ListenEndpoint(ctx, EndpointConfig{Addr: "127.0.0.1:0", Engine: resp.Node{Addr: engine}, Relay: sh.Relay()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// failOverTo does what the controller does when a durable shard's primary died: once the shard has seen
// its shipper end, the replica at addr applies the log to its end, is promoted and leads.
func failOverTo(t *testing.T, ctx context.Context, sh *Shard, replica *redis.Client, addr string) {
	t.Helper()
	eventually(t, 10*time.Second, "the shard sees its primary gone", func() error {
		if _, _, ok := sh.Leading(); ok {
			return errors.New("the shipper of the killed primary still runs")
		}
		return nil
	})
	start := time.Now()
	if err := sh.CatchUp(ctx, resp.Node{Addr: addr}); err != nil {
		t.Fatal(err)
	}
	caughtUp := time.Now()
	if err := replica.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := sh.Lead(ctx, resp.Node{Addr: addr}); err != nil {
		t.Fatal(err)
	}
	t.Logf("the replica applied the log to its end in %v; promotion and leading took %v", caughtUp.Sub(start), time.Since(caughtUp))
}

func replicaOf(t *testing.T, ctx context.Context, c *redis.Client, ep *Endpoint) {
	t.Helper()
	host, port, _ := net.SplitHostPort(ep.Addr().String())
	if err := c.Do(ctx, "REPLICAOF", host, port).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFailoverThroughTheLog: a replica fed by the relay (through the primary's endpoint, as CLUSTER
// REPLICATE or REPLICAOF reaches it) holds only what the log has; when the primary is killed, the log is
// fenced, the replica applies the log to its end and is promoted, and every write the old primary
// acknowledged is on it. A new, empty replica then gets the new primary's checkpoint and the log after it.
// The checkpoints are sealed: no value written is readable in their files.
func TestFailoverThroughTheLog(t *testing.T) {
	primaryAddr, primaryProc := startEngine(t)
	replicaAddr := startValkey(t)
	_, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := newTestShard(t, log)

	seed := redis.NewClient(&redis.Options{Addr: primaryAddr})
	defer seed.Close()
	if err := seed.Set(ctx, "before-attach", "secret-dataset-value", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := sh.Lead(ctx, resp.Node{Addr: primaryAddr}); err != nil {
		t.Fatal(err)
	}
	oldEndpoint := nodeEndpoint(t, ctx, primaryAddr, sh)
	replica := redis.NewClient(&redis.Options{Addr: replicaAddr})
	defer replica.Close()
	replicaOf(t, ctx, replica, oldEndpoint)

	// A writer acknowledged through the endpoint until the primary dies.
	var mu sync.Mutex
	var acked []int
	writer := redis.NewClient(&redis.Options{Addr: oldEndpoint.Addr().String(), MaxRetries: -1})
	defer writer.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
			err := writer.Set(wctx, fmt.Sprintf("k%05d", i), fmt.Sprintf("secret-v%05d", i), 0).Err()
			wcancel()
			if err != nil {
				return
			}
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}
	}()
	eventually(t, 20*time.Second, "the replica follows the log", func() error {
		if n, err := replica.DBSize(ctx).Result(); err != nil || n < 200 {
			return fmt.Errorf("the replica has %d keys, %v", n, err)
		}
		return nil
	})
	// A replica whose link breaks continues where it was.
	if err := replica.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the replica continues its history", func() error {
		if full, partial := sh.Relay().Syncs(); full != 1 || partial != 1 {
			return fmt.Errorf("%d full and %d partial syncs, want 1 and 1", full, partial)
		}
		return nil
	})
	if err := primaryProc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mu.Lock()
	ackedWrites := append([]int(nil), acked...)
	mu.Unlock()
	// Failover: fence, apply the log's tail, promote.
	failOverTo(t, ctx, sh, replica, replicaAddr)
	if p, epoch, ok := sh.Leading(); !ok || p.Addr != replicaAddr || epoch != 3 {
		t.Errorf("the shard leads with %s at epoch %d (%v); want the promoted replica at epoch 3", p.Addr, epoch, ok)
	}
	promoted := nodeEndpoint(t, ctx, replicaAddr, sh)
	client := redis.NewClient(&redis.Options{Addr: promoted.Addr().String()})
	defer client.Close()
	checkKeys := func(c *redis.Client, who string) {
		t.Helper()
		if v, err := c.Get(ctx, "before-attach").Result(); err != nil || v != "secret-dataset-value" {
			t.Errorf("%s: the key of the first checkpoint = %q, %v", who, v, err)
		}
		for _, i := range ackedWrites {
			if v, err := c.Get(ctx, fmt.Sprintf("k%05d", i)).Result(); err != nil || v != fmt.Sprintf("secret-v%05d", i) {
				t.Fatalf("%s: acknowledged write %d of %d lost: %q, %v", who, i, len(ackedWrites), v, err)
			}
		}
	}
	checkKeys(client, "the promoted replica")
	if err := client.Set(ctx, "after-failover", "new-epoch", 0).Err(); err != nil {
		t.Fatal(err)
	}
	oldEndpoint.Close()

	// A new replica gets the new primary's checkpoint and the log after it.
	fresh := redis.NewClient(&redis.Options{Addr: startValkey(t)})
	defer fresh.Close()
	replicaOf(t, ctx, fresh, promoted)
	eventually(t, 20*time.Second, "a new replica syncs from the log", func() error {
		if v, err := fresh.Get(ctx, "after-failover").Result(); err != nil || v != "new-epoch" {
			return fmt.Errorf("after-failover = %q, %v", v, err)
		}
		return nil
	})
	checkKeys(fresh, "the new replica")
	t.Logf("%d writes acknowledged before the kill", len(ackedWrites))

	files, _ := filepath.Glob(filepath.Join(sh.cfg.Checkpoints.Dir, "*"))
	if len(files) != 1 {
		t.Errorf("checkpoint files %v, want the newest only", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("secret-")) || bytes.Contains(raw, []byte("before-attach")) {
			t.Errorf("%s holds cache data in plain", f)
		}
	}
}

// TestEndpointKeepsReplicasOffTheEngine: without a relay, a replica's handshake through the endpoint is
// refused; it never reaches the engine, where it would count in WAIT.
func TestEndpointKeepsReplicasOffTheEngine(t *testing.T) {
	addr := startValkey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ep, err := ListenEndpoint(ctx, EndpointConfig{Addr: "127.0.0.1:0", Engine: resp.Node{Addr: addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	c, err := resp.Dial(ctx, resp.Node{Addr: ep.Addr().String()}, resp.Options{DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "PING"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(ctx, "REPLCONF", "listening-port", "1234")
	var rerr resp.Error
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "fed by its log") {
		t.Errorf("REPLCONF through an endpoint without a relay: %v, want the refusal", err)
	}
	engine := redis.NewClient(&redis.Options{Addr: addr})
	defer engine.Close()
	if n, err := engine.Do(ctx, "WAIT", 0, 0).Int(); err != nil || n != 0 {
		t.Errorf("the engine counts %d replicas, %v; want none", n, err)
	}
}

func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRelayTakesTheCurrentTokens: a replica's AUTH is checked against the tokens as they stand when it
// connects (a rotated token works at once, an old one no longer), and no replica gets in while the tokens
// cannot be known.
func TestRelayTakesTheCurrentTokens(t *testing.T) {
	var mu sync.Mutex
	tokens, known := []string{"first-token-0123456789"}, true
	relay := NewRelay(RelayConfig{Passwords: func() ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !known {
			return nil, errors.New("the store is unreachable")
		}
		return slices.Clone(tokens), nil
	}})
	defer relay.Close()
	auth := func(password string) string {
		t.Helper()
		client, server := net.Pipe()
		defer client.Close()
		go relay.Serve(server, server, false)
		client.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := client.Write(resp.AppendCommand(nil, "AUTH", password)); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(client).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(line)
	}
	if got := auth("first-token-0123456789"); got != "+OK" {
		t.Errorf("the current token: %s", got)
	}
	mu.Lock()
	tokens = []string{"second-token-0123456789", "first-token-0123456789"}
	mu.Unlock()
	if got := auth("second-token-0123456789"); got != "+OK" {
		t.Errorf("the rotated token: %s", got)
	}
	mu.Lock()
	tokens = []string{"second-token-0123456789", ""}
	mu.Unlock()
	if got := auth("first-token-0123456789"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("a token no longer valid: %s", got)
	}
	mu.Lock()
	known = false
	mu.Unlock()
	if got := auth("second-token-0123456789"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("while the tokens are not known: %s", got)
	}
}
