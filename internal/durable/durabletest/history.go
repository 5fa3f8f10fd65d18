// Package durabletest is what the durability tests share: the history of concurrent clients doing GET and
// SET on a few keys (Jepsen-style), and its check for linearizability with porcupine against a register per
// key.
package durabletest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// Input is one operation of a history: a GET, or a SET of a value no other SET writes.
type Input struct {
	Set        bool
	Key, Value string
}

// Model is a register per key: a GET returns the last value SET ("" before any).
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(Input).Key
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
		if in := input.(Input); in.Set {
			return true, in.Value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		if in := input.(Input); in.Set {
			return fmt.Sprintf("set %s %s", in.Key, in.Value)
		}
		return fmt.Sprintf("get %s -> %q", input.(Input).Key, output)
	},
}

// History records the operations of concurrent clients, on a clock that starts with it.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

// NewHistory starts an empty history.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

func (h *History) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops are the operations recorded so far; a SET without a reply returns at math.MaxInt64.
func (h *History) Ops() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// RunClient sends random GETs and SETs of keys to the address in current (through a client dial makes)
// until stop, recording each. It never retries an operation (a retried SET could take effect twice); after
// one without a reply it waits until current changes, or a second, so that writes of unknown outcome stay
// few and the check stays fast however long a failover takes.
func (h *History) RunClient(ctx context.Context, id int, keys []string, dial func(addr string) *redis.Client, current *atomic.Value, stop *atomic.Bool) {
	addr := current.Load().(string)
	c := dial(addr)
	defer func() { c.Close() }()
	for seq := 0; !stop.Load(); seq++ {
		if now := current.Load().(string); now != addr {
			c.Close()
			addr = now
			c = dial(addr)
		}
		in := Input{Key: keys[rand.IntN(len(keys))], Set: rand.IntN(2) == 0}
		call := h.Now()
		var out string
		var err error
		if in.Set {
			in.Value = fmt.Sprintf("c%d-%d", id, seq)
			err = c.Set(ctx, in.Key, in.Value, 0).Err()
		} else if out, err = c.Get(ctx, in.Key).Result(); err == redis.Nil {
			out, err = "", nil
		}
		switch {
		case err == nil:
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: h.Now()})
			continue
		case in.Set:
			// No reply: the write may or may not have happened, at any time from now on.
			h.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: "", Return: math.MaxInt64})
		}
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && current.Load().(string) == addr && !stop.Load(); {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Check reads every key once more through c (once the clients stopped), then fails t unless the history has
// at least minSets SETs and is linearizable (writing it out as HTML when it is not).
func (h *History) Check(t testing.TB, ctx context.Context, c *redis.Client, keys []string, minSets int) {
	t.Helper()
	for _, k := range keys {
		call := h.Now()
		v, err := c.Get(ctx, k).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		h.add(porcupine.Operation{ClientId: 99, Input: Input{Key: k}, Call: call, Output: v, Return: h.Now()})
	}
	ops := h.Ops()
	sets, unknown := 0, 0
	for _, op := range ops {
		if op.Input.(Input).Set {
			sets++
			if op.Return == math.MaxInt64 {
				unknown++
			}
		}
	}
	t.Logf("%d operations, %d sets (%d without a reply)", len(ops), sets, unknown)
	if sets < minSets {
		t.Errorf("only %d sets in the history", sets)
	}
	res, info := porcupine.CheckOperationsVerbose(Model, ops, 2*time.Minute)
	if res != porcupine.Ok {
		t.Errorf("the history is not linearizable (%v)", res)
		if path := t.TempDir() + "/history.html"; porcupine.VisualizePath(Model, info, path) == nil {
			t.Logf("history: %s", path)
		}
	}
}
