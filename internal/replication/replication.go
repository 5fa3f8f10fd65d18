// Package replication drives Valkey/Redis OSS replication between engine nodes: attaching replicas,
// reading their sync state, choosing and promoting the most up-to-date replica. Imported by internal/controller.
//
// Every function opens its own short-lived internal/resp connections (500 ms to connect, 2 s per reply, and never
// longer than the caller's context), so a hung engine cannot block a caller past its context. Transport failures
// wrap resp.ErrUnreachable; error replies from an engine are resp.Error.
package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// pollInterval is how often WaitSynced and Promote re-read replication state.
const pollInterval = 20 * time.Millisecond

// defaultPromoteTimeout bounds a planned Promote whose context has no deadline: writes on the old primary are
// paused for at most this long.
const defaultPromoteTimeout = 10 * time.Second

// Inspect reads n's replication state (INFO replication).
func Inspect(ctx context.Context, n resp.Node) (State, error) {
	c, err := dial(ctx, n)
	if err != nil {
		return State{}, fmt.Errorf("inspect %s: %w", n.Addr, err)
	}
	defer c.Close()
	st, err := inspect(ctx, c)
	if err != nil {
		return State{}, fmt.Errorf("inspect %s: %w", n.Addr, err)
	}
	return st, nil
}

func inspect(ctx context.Context, c *resp.Conn) (State, error) {
	text, err := resp.String(c.Do(ctx, "INFO", "replication"))
	if err != nil {
		return State{}, err
	}
	return parseInfo(text)
}

// Attach makes replica a replica of primary (REPLICAOF host port). When primary has a password, the replica
// authenticates to it as the default user (CONFIG SET masteruser default masterauth <password>); otherwise both
// are cleared. When primary is reached over TLS, tls-replication is switched on (and off for plain TCP). Attach
// is idempotent: a replica already following primary keeps its link and does not resync.
func Attach(ctx context.Context, replica, primary resp.Node) error {
	if err := attach(ctx, replica, primary); err != nil {
		return fmt.Errorf("attach %s to %s: %w", replica.Addr, primary.Addr, err)
	}
	return nil
}

func attach(ctx context.Context, replica, primary resp.Node) error {
	host, port, err := net.SplitHostPort(primary.Addr)
	if err != nil {
		return fmt.Errorf("primary address: %w", err)
	}
	if sameAddr(replica.Addr, primary.Addr) {
		return errors.New("a node cannot replicate itself")
	}
	c, err := dial(ctx, replica)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := setTLSReplication(ctx, c, primary.TLS != nil); err != nil {
		return err
	}
	user := primary.User
	if primary.Password != "" && user == "" {
		user = "default"
	}
	if _, err := c.Do(ctx, "CONFIG", "SET", "masteruser", user, "masterauth", primary.Password); err != nil {
		return fmt.Errorf("config set masterauth: %w", err)
	}
	if _, err := c.Do(ctx, "REPLICAOF", host, port); err != nil {
		return fmt.Errorf("replicaof: %w", err)
	}
	return nil
}

// setTLSReplication sets tls-replication when it differs from want. Setting it unconditionally would fail on
// an engine that has no TLS certificate configured even when want is false.
func setTLSReplication(ctx context.Context, c *resp.Conn, want bool) error {
	v, err := c.Do(ctx, "CONFIG", "GET", "tls-replication")
	if err != nil {
		return fmt.Errorf("config get tls-replication: %w", err)
	}
	cur := "no"
	if len(v.Elems) == 2 {
		cur = v.Elems[1].Str
	} else if want {
		return errors.New("engine does not support tls-replication")
	}
	val := "no"
	if want {
		val = "yes"
	}
	if cur == val {
		return nil
	}
	if _, err := c.Do(ctx, "CONFIG", "SET", "tls-replication", val); err != nil {
		return fmt.Errorf("config set tls-replication %s: %w", val, err)
	}
	return nil
}

// Detach turns n into a primary (REPLICAOF NO ONE), keeping its data. It is a no-op on a primary.
func Detach(ctx context.Context, n resp.Node) error {
	c, err := dial(ctx, n)
	if err != nil {
		return fmt.Errorf("detach %s: %w", n.Addr, err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "REPLICAOF", "NO", "ONE"); err != nil {
		return fmt.Errorf("detach %s: %w", n.Addr, err)
	}
	return nil
}

// WaitSynced waits until replica follows primary with its link up, no sync in progress, the same replication
// ID, and an offset at least the primary's offset read just before (equal when no write is in flight). It
// keeps polling through transport errors and returns ctx's error, with the last state seen, when ctx ends
// first.
func WaitSynced(ctx context.Context, replica, primary resp.Node) error {
	last := "no state read"
	for {
		p, err := Inspect(ctx, primary)
		if err == nil {
			var r State
			r, err = Inspect(ctx, replica)
			if err == nil {
				if synced(r, p, primary.Addr) {
					return nil
				}
				last = fmt.Sprintf("replica role %s of %q, link up %t, sync in progress %t, offset %d, replid %s; primary offset %d, replid %s",
					r.Role, r.MasterAddr, r.LinkUp, r.SyncInProgress, r.Offset, r.ReplID, p.Offset, p.ReplID)
			}
		}
		if err != nil {
			if !retryable(err) {
				return fmt.Errorf("wait synced %s to %s: %w", replica.Addr, primary.Addr, err)
			}
			last = err.Error()
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("wait synced %s to %s: %w (last: %s)", replica.Addr, primary.Addr, err, last)
		}
	}
}

func synced(r, p State, primaryAddr string) bool {
	return r.Role == RoleReplica && sameAddr(r.MasterAddr, primaryAddr) && r.LinkUp && !r.SyncInProgress &&
		r.ReplID == p.ReplID && r.Offset >= p.Offset
}

// retryable reports whether polling may go on after err: the engine is unreachable for now, or loading its
// data set.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ee resp.Error
	if errors.As(err, &ee) {
		return strings.HasPrefix(string(ee), "LOADING") || strings.HasPrefix(string(ee), "BUSY")
	}
	return errors.Is(err, resp.ErrUnreachable)
}

// MostUpToDate inspects every candidate concurrently and returns the index and state of the reachable one with
// the highest replication offset. A candidate still loading a full sync ranks below every other; ties go to
// the lowest index. It fails when no candidate can be inspected.
func MostUpToDate(ctx context.Context, candidates []resp.Node) (int, State, error) {
	if len(candidates) == 0 {
		return -1, State{}, errors.New("most up to date: no candidates")
	}
	states := make([]State, len(candidates))
	errs := make([]error, len(candidates))
	var wg sync.WaitGroup
	for i, n := range candidates {
		wg.Go(func() { states[i], errs[i] = Inspect(ctx, n) })
	}
	wg.Wait()
	best := -1
	for i := range candidates {
		if errs[i] != nil {
			continue
		}
		if best < 0 || ahead(states[i], states[best]) {
			best = i
		}
	}
	if best < 0 {
		return -1, State{}, fmt.Errorf("most up to date: no reachable candidate: %w", errors.Join(errs...))
	}
	return best, states[best], nil
}

// ahead reports whether a is a strictly better promotion candidate than b.
func ahead(a, b State) bool {
	if a.SyncInProgress != b.SyncInProgress {
		return !a.SyncInProgress
	}
	return a.Offset > b.Offset
}

// Promote makes candidate the new primary and re-points the other replicas to it, losing no acknowledged write
// that reached the candidate.
//
// With oldPrimary reachable (a planned promotion), writes on it are paused first (CLIENT PAUSE WRITE), so its
// replication offset stops moving and every write it acknowledged is in its replication stream; Promote waits
// until the candidate has applied that stream up to the paused offset, then runs REPLICAOF NO ONE on the
// candidate, REPLICAOF candidate on the old primary and on the others, and unpauses the old primary. Writes
// that were held by the pause are then rejected with READONLY, never acknowledged. If the candidate does not
// catch up before ctx ends, the old primary is unpaused unchanged and Promote fails. If the old primary cannot
// be demoted after the candidate was promoted, it stays paused until the pause times out (the remaining
// context plus a second), leaving the caller time to retry Attach(oldPrimary, candidate).
//
// With oldPrimary nil or unreachable, the candidate is promoted directly and the other reachable replicas are
// re-pointed to it; writes the candidate never received are lost, which is why the candidate should come from
// MostUpToDate. Unreachable others are skipped (re-attach them when they answer again); any other failure is
// returned, after every node was tried. Promote is idempotent: running it again after a partial failure
// finishes the job.
func Promote(ctx context.Context, candidate resp.Node, oldPrimary *resp.Node, others []resp.Node) error {
	if oldPrimary != nil && sameAddr(oldPrimary.Addr, candidate.Addr) {
		return fmt.Errorf("promote %s: candidate is the old primary", candidate.Addr)
	}
	if oldPrimary != nil {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, defaultPromoteTimeout)
			defer cancel()
		}
		err := promotePlanned(ctx, candidate, *oldPrimary, others)
		if !errors.Is(err, errOldPrimaryUnreachable) {
			return err
		}
	}
	if err := Detach(ctx, candidate); err != nil {
		return fmt.Errorf("promote %s: %w", candidate.Addr, err)
	}
	if err := repoint(ctx, candidate, others, oldPrimary); err != nil {
		return fmt.Errorf("promote %s: %w", candidate.Addr, err)
	}
	return nil
}

var errOldPrimaryUnreachable = errors.New("old primary unreachable")

// promotePlanned is Promote with the old primary alive. It returns errOldPrimaryUnreachable, having changed
// nothing, when the old primary cannot be reached.
func promotePlanned(ctx context.Context, candidate, old resp.Node, others []resp.Node) error {
	deadline, _ := ctx.Deadline()
	pauseFor := time.Until(deadline) + time.Second
	c, err := dial(ctx, old)
	if errors.Is(err, resp.ErrUnreachable) {
		return errOldPrimaryUnreachable
	}
	if err != nil {
		return fmt.Errorf("promote %s: old primary %s: %w", candidate.Addr, old.Addr, err)
	}
	defer c.Close()
	ms := strconv.FormatInt(max(pauseFor.Milliseconds(), 1), 10)
	if _, err := c.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE"); err != nil {
		if errors.Is(err, resp.ErrUnreachable) {
			return errOldPrimaryUnreachable
		}
		return fmt.Errorf("promote %s: pause old primary %s: %w", candidate.Addr, old.Addr, err)
	}
	unpause := true
	defer func() {
		if unpause {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
			defer cancel()
			if uc, err := dial(uctx, old); err == nil {
				uc.Do(uctx, "CLIENT", "UNPAUSE")
				uc.Close()
			}
		}
	}()
	// With writes paused, the old primary's offset covers every write it acknowledged.
	st, err := inspect(ctx, c)
	if err != nil {
		return fmt.Errorf("promote %s: inspect old primary %s: %w", candidate.Addr, old.Addr, err)
	}
	if st.Role == RolePrimary {
		if err := waitCaughtUp(ctx, candidate, st); err != nil {
			return fmt.Errorf("promote %s: %w", candidate.Addr, err)
		}
	}
	// From here on the old primary must not accept writes again as a primary.
	if err := Detach(ctx, candidate); err != nil {
		var ee resp.Error
		unpause = errors.As(err, &ee) // refused by the candidate: nothing changed
		return fmt.Errorf("promote %s: %w", candidate.Addr, err)
	}
	if err := Attach(ctx, old, candidate); err != nil {
		unpause = false
		return fmt.Errorf("promote %s: demote old primary: %w", candidate.Addr, err)
	}
	if err := repoint(ctx, candidate, others, &old); err != nil {
		return fmt.Errorf("promote %s: %w", candidate.Addr, err)
	}
	return nil
}

// waitCaughtUp waits until candidate has applied primary's replication stream up to primary's offset.
func waitCaughtUp(ctx context.Context, candidate resp.Node, primary State) error {
	last := "no state read"
	for {
		st, err := Inspect(ctx, candidate)
		switch {
		case err == nil && st.ReplID == primary.ReplID && st.Offset >= primary.Offset:
			return nil
		case err == nil:
			last = fmt.Sprintf("offset %d, replid %s; primary offset %d, replid %s", st.Offset, st.ReplID, primary.Offset, primary.ReplID)
		case !retryable(err):
			return fmt.Errorf("wait for candidate to catch up: %w", err)
		default:
			last = err.Error()
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("wait for candidate to catch up: %w (last: %s)", err, last)
		}
	}
}

// repoint attaches every node of others to primary concurrently, skipping primary itself, skip and nodes that
// are unreachable.
func repoint(ctx context.Context, primary resp.Node, others []resp.Node, skip *resp.Node) error {
	errs := make([]error, len(others))
	var wg sync.WaitGroup
	for i, n := range others {
		if sameAddr(n.Addr, primary.Addr) || (skip != nil && sameAddr(n.Addr, skip.Addr)) {
			continue
		}
		wg.Go(func() {
			if err := Attach(ctx, n, primary); err != nil && !errors.Is(err, resp.ErrUnreachable) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitChannel is the channel of the no-op PUBLISH that WaitForReplicas sends before WAIT.
const waitChannel = "__ecache__:wait"

// WaitForReplicas runs WAIT on primary: it blocks until n replicas acknowledged every write made so far on the
// primary, by any client, or until timeout (which must be positive), and returns how many did.
//
// On Valkey 8.0, WAIT only covers the writes made on its own connection, so on a fresh connection it returns at
// once; on Redis 7.0 it covers the whole stream so far. The fresh connection therefore first publishes an empty
// message on a reserved channel: the message goes through the replication stream, and WAIT then covers every
// earlier write on both engines (outside cluster mode, where PUBLISH is replicated).
func WaitForReplicas(ctx context.Context, primary resp.Node, n int, timeout time.Duration) (int, error) {
	if timeout <= 0 {
		return 0, fmt.Errorf("wait for replicas on %s: timeout %v, want positive", primary.Addr, timeout)
	}
	c, err := dial(ctx, primary)
	if err != nil {
		return 0, fmt.Errorf("wait for replicas on %s: %w", primary.Addr, err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "PUBLISH", waitChannel, ""); err != nil {
		return 0, fmt.Errorf("wait for replicas on %s: %w", primary.Addr, err)
	}
	ms := max(timeout.Milliseconds(), 1)
	got, err := resp.Int(c.DoTimeout(ctx, readTimeout+timeout, "WAIT", strconv.Itoa(n), strconv.FormatInt(ms, 10)))
	if err != nil {
		return 0, fmt.Errorf("wait for replicas on %s: %w", primary.Addr, err)
	}
	return int(got), nil
}

// sameAddr compares two host:port addresses.
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return ap == bp && strings.EqualFold(ah, bh)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
