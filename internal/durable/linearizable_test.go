package durable

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/resp"
)

// kvInput is one operation of the history: a GET, or a SET of a value no other SET writes.
type kvInput struct {
	set        bool
	key, value string
}

// kvModel is a register per key: a GET returns the last value SET ("" before any).
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.set {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.set {
			return fmt.Sprintf("set %s %s", in.key, in.value)
		}
		return fmt.Sprintf("get %s -> %q", in.key, output)
	},
}

// history records operations from concurrent clients.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// TestLinearizableAcrossFailures (Jepsen-style, checked with porcupine): clients GET and SET a few keys
// through the primary's durable endpoint while the log's leader is killed and brought back, and then the
// primary engine is SIGKILLed and a replica takes over through the log. The history every client saw
// (a SET whose reply never came may or may not have happened) must be linearizable: no acknowledged write
// is lost, and no read shows a write that was then lost. A second replica, fed by the relay through the
// dead primary's endpoint, ends with the new primary's data.
func TestLinearizableAcrossFailures(t *testing.T) {
	primaryAddr, primaryProc := startEngine(t)
	r1Addr, r2Addr := startValkey(t), startValkey(t)
	logReplicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := newTestShard(t, log)
	if err := sh.Lead(ctx, resp.Node{Addr: primaryAddr}); err != nil {
		t.Fatal(err)
	}
	primaryEndpoint := nodeEndpoint(t, ctx, primaryAddr, sh)
	r1, r2 := redis.NewClient(&redis.Options{Addr: r1Addr}), redis.NewClient(&redis.Options{Addr: r2Addr})
	defer r1.Close()
	defer r2.Close()
	replicaOf(t, ctx, r1, primaryEndpoint)
	replicaOf(t, ctx, r2, primaryEndpoint)

	var current atomic.Value // the address clients send to: the primary's endpoint
	current.Store(primaryEndpoint.Addr().String())
	h := &history{start: time.Now()}
	keys := []string{"a", "b", "c", "d"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for id := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runClient(ctx, id, keys, &current, &stop, h)
		}()
	}

	time.Sleep(800 * time.Millisecond)
	leader := -1
	for i, r := range logReplicas.cfgs {
		if st, err := log.Status(ctx, r.Self.APIAddr); err == nil && st.State == "Leader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("the log has no leader")
	}
	logReplicas.stop(leader)
	time.Sleep(800 * time.Millisecond)
	logReplicas.start(leader)
	time.Sleep(400 * time.Millisecond)

	if err := primaryProc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	failOverTo(t, ctx, sh, r1, r1Addr)
	promoted := nodeEndpoint(t, ctx, r1Addr, sh)
	current.Store(promoted.Addr().String())
	t.Logf("failover through the log took %v after the SIGKILL (detection included)", time.Since(killedAt).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	final := redis.NewClient(&redis.Options{Addr: promoted.Addr().String()})
	defer final.Close()
	for _, k := range keys {
		call := h.now()
		v, err := final.Get(ctx, k).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		h.add(porcupine.Operation{ClientId: 99, Input: kvInput{key: k}, Call: call, Output: v, Return: h.now()})
	}
	sets, unknown := 0, 0
	for _, op := range h.ops {
		if op.Input.(kvInput).set {
			sets++
			if op.Return == math.MaxInt64 {
				unknown++
			}
		}
	}
	t.Logf("%d operations, %d sets (%d without a reply)", len(h.ops), sets, unknown)
	if sets < 100 {
		t.Errorf("only %d sets in the history", sets)
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, h.ops, time.Minute)
	if res != porcupine.Ok {
		t.Errorf("the history is not linearizable (%v)", res)
		if path := t.TempDir() + "/history.html"; porcupine.VisualizePath(kvModel, info, path) == nil {
			t.Logf("history: %s", path)
		}
	}
	eventually(t, 20*time.Second, "the second replica follows the new primary", func() error {
		for _, k := range keys {
			want, _ := final.Get(ctx, k).Result()
			if got, _ := r2.Get(ctx, k).Result(); got != want {
				return fmt.Errorf("key %s: %q on the replica, %q on the primary", k, got, want)
			}
		}
		return nil
	})
}

// runClient sends random GETs and SETs to the current primary endpoint until stop, recording each.
func runClient(ctx context.Context, id int, keys []string, current *atomic.Value, stop *atomic.Bool, h *history) {
	addr := current.Load().(string)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 3 * time.Second, PoolSize: 1})
	defer func() { c.Close() }()
	for seq := 0; !stop.Load(); seq++ {
		if now := current.Load().(string); now != addr {
			c.Close()
			addr = now
			c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ReadTimeout: 3 * time.Second, PoolSize: 1})
		}
		in := kvInput{key: keys[rand.IntN(len(keys))], set: rand.IntN(2) == 0}
		call := h.now()
		var out string
		var err error
		if in.set {
			in.value = fmt.Sprintf("c%d-%d", id, seq)
			err = c.Set(ctx, in.key, in.value, 0).Err()
		} else if out, err = c.Get(ctx, in.key).Result(); err == redis.Nil {
			out, err = "", nil
		}
		switch {
		case err == nil:
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: h.now()})
		case in.set:
			// No reply: the write may or may not have happened, at any time from now on.
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: "", Return: math.MaxInt64})
			awaitNewPrimary(current, addr)
		default:
			awaitNewPrimary(current, addr) // a read without a reply changed nothing
		}
	}
}

// awaitNewPrimary waits, after a failed operation, until the clients are sent elsewhere or a second has
// passed: a client does not retry a dead primary in a loop, so writes of unknown outcome stay few and the
// check stays fast however long the failover takes.
func awaitNewPrimary(current *atomic.Value, addr string) {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && current.Load().(string) == addr; {
		time.Sleep(10 * time.Millisecond)
	}
}
