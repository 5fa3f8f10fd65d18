package clustermode

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/hashslot"
	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// Migration batching. A batch of slots is put in IMPORTING/MIGRATING state together, drained one slot at a
// time, then handed over together. Per-slot commands to one node go out on several connections side by side:
// Valkey 8 replicates CLUSTER SETSLOT to the replicas and answers only once they acknowledge, so one connection
// would wait for one acknowledgement per slot.
const (
	slotBatch        = 64
	drainers         = 8
	keyBatch         = 100
	migrateTimeoutMs = 10000
)

// MoveSlots moves the slots (with every key in them) from primary from to primary to while the cluster keeps
// serving. For each slot, in batches:
//
//  1. to: CLUSTER SETSLOT slot IMPORTING from-id; then from: CLUSTER SETSLOT slot MIGRATING to-id. From now on
//     from serves the keys it still has and answers ASK (go to to) for keys it does not have, and to accepts
//     those after ASKING, so a key is written in exactly one place.
//  2. from: CLUSTER GETKEYSINSLOT slot n, then MIGRATE to-ip to-port "" 0 timeout REPLACE [AUTH password]
//     KEYS ..., until the slot is empty on from. MIGRATE is atomic per key on the source (it is restored on to
//     before it is deleted on from), and no key can reappear on from, since writes of absent keys are sent to
//     to. REPLACE only matters when a previous run was cut short.
//  3. CLUSTER SETSLOT slot NODE to-id on to (which bumps its config epoch so the change wins), then on from,
//     then on every other primary; the rest of the cluster learns it through gossip. Clients get MOVED.
//
// seed is any node of the cluster (it lists the other primaries); to's password is used for MIGRATE's AUTH.
// progress (may be nil) is called after each slot with the number of slots done. When ctx ends or a step fails,
// slots may be left in MIGRATING/IMPORTING state, which the cluster serves correctly (ASK); running MoveSlots
// again with the same arguments finishes the job: slots that to already holds are only confirmed. MoveSlots
// returns once every reachable node agrees on the result and reports cluster_state:ok.
func MoveSlots(ctx context.Context, seed resp.Node, from, to resp.Node, slots hashslot.Range, progress func(done int)) error {
	if !slots.Valid() {
		return fmt.Errorf("move slots: invalid slot range %d-%d", slots.Start, slots.End)
	}
	p := newPool()
	defer p.close()
	fc, tc := p.get(from), p.get(to)
	fself, _, err := selfOf(ctx, fc)
	if err != nil {
		return fmt.Errorf("move slots: %w", err)
	}
	tself, _, err := selfOf(ctx, tc)
	if err != nil {
		return fmt.Errorf("move slots: %w", err)
	}
	if fself.ID == tself.ID {
		return fmt.Errorf("move slots: %s and %s are the same node", from.Addr, to.Addr)
	}
	if !fself.master() || !tself.master() {
		return fmt.Errorf("move slots: %s and %s must both be primaries", from.Addr, to.Addr)
	}
	members, view, err := clusterMembers(ctx, p, seed)
	if err != nil {
		return fmt.Errorf("move slots: %w", err)
	}
	var others []*redis.Client
	for _, n := range view {
		if !n.master() || n.failed() || n.ID == fself.ID || n.ID == tself.ID {
			continue
		}
		if n.myself() {
			others = append(others, p.slow(seed))
		} else {
			others = append(others, p.slow(peer(seed, n.Addr)))
		}
	}
	toIP, toPort, err := resolveAddr(ctx, to.Addr)
	if err != nil {
		return fmt.Errorf("move slots: %w", err)
	}

	// Classify: slots to already holds (a previous run got that far) are only confirmed on the others.
	var fresh, finish []int
	for s := slots.Start; s <= slots.End; s++ {
		switch {
		case tself.owns(s):
			finish = append(finish, s)
		case fself.owns(s):
			fresh = append(fresh, s)
		default:
			return fmt.Errorf("move slots: slot %d is held by neither %s nor %s", s, from.Addr, to.Addr)
		}
	}

	m := &mover{fc: p.slow(from), tc: p.slow(to), others: others, fromID: fself.ID, toID: tself.ID, to: to, toIP: toIP, toPort: toPort}
	done := 0
	report := func(n int) {
		for i := 0; i < n; i++ {
			done++
			if progress != nil {
				progress(done)
			}
		}
	}
	for len(finish) > 0 {
		b := finish[:min(slotBatch, len(finish))]
		finish = finish[len(b):]
		if err := m.handOver(ctx, b, false); err != nil {
			return fmt.Errorf("move slots: %w", err)
		}
		report(len(b))
	}
	for len(fresh) > 0 {
		b := fresh[:min(slotBatch, len(fresh))]
		fresh = fresh[len(b):]
		if err := m.moveBatch(ctx, b); err != nil {
			return fmt.Errorf("move slots: %w", err)
		}
		report(len(b))
	}
	if err := waitFor(ctx, "the cluster to agree on the moved slots", converged(p, members)); err != nil {
		return fmt.Errorf("move slots: %w", err)
	}
	return nil
}

type mover struct {
	fc, tc       *redis.Client
	others       []*redis.Client
	fromID, toID string
	to           resp.Node
	toIP         string
	toPort       int
}

// pipe sends one command per slot to c, spread over up to fanout pipelines that run side by side, and
// returns the replies in slot order and the first error.
func pipe(ctx context.Context, c *redis.Client, slots []int, args func(slot int) []any) ([]*redis.Cmd, error) {
	out := make([]*redis.Cmd, len(slots))
	for i, s := range slots {
		out[i] = redis.NewCmd(ctx, args(s)...)
	}
	per := (len(slots) + fanout - 1) / fanout
	var wg sync.WaitGroup
	for lo := 0; lo < len(out); lo += per {
		chunk := out[lo:min(len(out), lo+per)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, cmd := range chunk {
					_ = p.Process(ctx, cmd)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, cmd := range out {
		if err := cmd.Err(); err != nil {
			return out, fmt.Errorf("%s: %s (slot %d): %w", c.Options().Addr, cmdName(cmd.Args()), slots[i], err)
		}
	}
	return out, nil
}

func (m *mover) moveBatch(ctx context.Context, slots []int) error {
	if _, err := pipe(ctx, m.tc, slots, func(s int) []any {
		return []any{"CLUSTER", "SETSLOT", s, "IMPORTING", m.fromID}
	}); err != nil {
		return err
	}
	if _, err := pipe(ctx, m.fc, slots, func(s int) []any {
		return []any{"CLUSTER", "SETSLOT", s, "MIGRATING", m.toID}
	}); err != nil {
		return err
	}
	counts, err := pipe(ctx, m.fc, slots, func(s int) []any {
		return []any{"CLUSTER", "COUNTKEYSINSLOT", s}
	})
	if err != nil {
		return err
	}
	var busy []int
	for i, s := range slots {
		if n, _ := counts[i].Int64(); n > 0 {
			busy = append(busy, s)
		}
	}
	if err := m.drainAll(ctx, busy); err != nil {
		return err
	}
	return m.handOver(ctx, slots, true)
}

// drainAll drains slots, drainers at a time.
func (m *mover) drainAll(ctx context.Context, slots []int) error {
	errs := make([]error, len(slots))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(drainers, len(slots)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = m.drain(ctx, slots[i])
			}
		}()
	}
	for i := range slots {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// drain migrates every key of slot from the source to the target.
func (m *mover) drain(ctx context.Context, slot int) error {
	for {
		keys, err := m.fc.Do(ctx, "CLUSTER", "GETKEYSINSLOT", slot, keyBatch).StringSlice()
		if err != nil {
			return fmt.Errorf("%s: cluster getkeysinslot %d: %w", m.fc.Options().Addr, slot, err)
		}
		if len(keys) == 0 {
			return nil
		}
		args := []any{"MIGRATE", m.toIP, m.toPort, "", 0, migrateTimeoutMs, "REPLACE"}
		switch {
		case m.to.User != "":
			args = append(args, "AUTH2", m.to.User, m.to.Password)
		case m.to.Password != "":
			args = append(args, "AUTH", m.to.Password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		if err := m.fc.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("%s: migrate slot %d (%d keys) to %s: %w", m.fc.Options().Addr, slot, len(keys), m.to.Addr, err)
		}
	}
}

// handOver assigns slots to the target: on the target first (when it was importing: this bumps its config
// epoch), then on the source and every other primary side by side. Errors from other primaries are not fatal:
// they learn the new owner from the target's higher config epoch through gossip, and MoveSlots waits for that.
func (m *mover) handOver(ctx context.Context, slots []int, onTarget bool) error {
	node := func(s int) []any { return []any{"CLUSTER", "SETSLOT", s, "NODE", m.toID} }
	if onTarget {
		if _, err := pipe(ctx, m.tc, slots, node); err != nil {
			return err
		}
	}
	errs := make([]error, 1+len(m.others))
	var wg sync.WaitGroup
	for i, c := range append([]*redis.Client{m.fc}, m.others...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pipe(ctx, c, slots, node)
		}()
	}
	wg.Wait()
	if errs[0] != nil && !m.sourceGaveUp(ctx, slots) {
		return errs[0]
	}
	return ctx.Err()
}

// sourceGaveUp reports whether the source already sees the target as the owner of slots. When the target's
// claim reaches the source by gossip before the source's own SETSLOT NODE, and those were its last slots, an
// engine with cluster-allow-replica-migration (the default) turns the source into a replica of the target and
// refuses SETSLOT from then on; the hand-over is complete all the same.
func (m *mover) sourceGaveUp(ctx context.Context, slots []int) bool {
	// The source may refuse before the last claims reached it; give gossip a moment.
	wctx, cancel := context.WithTimeout(ctx, gaveUpWait)
	defer cancel()
	err := waitFor(wctx, "the source to see the target own the slots", func(ctx context.Context) (bool, string, error) {
		me, v, err := selfOf(ctx, m.fc)
		if err != nil {
			return false, err.Error(), nil
		}
		for _, s := range slots {
			if me.owns(s) || v.owner(s) != m.toID {
				return false, fmt.Sprintf("slot %d is not with the target yet", s), nil
			}
		}
		return true, "", nil
	})
	return err == nil
}

// gaveUpWait bounds how long sourceGaveUp waits for the source to see the hand-over.
const gaveUpWait = 5 * time.Second
