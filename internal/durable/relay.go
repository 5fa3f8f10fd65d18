package durable

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

// Relay feeds a shard's replicas from its log instead of from its primary: to an engine that asks for the
// primary's stream (REPLICAOF, CLUSTER REPLICATE) it answers as a primary would, with the newest checkpoint
// and then the log's committed entries after it. A replica therefore never holds data the log lacks, and its
// replication offset is a log offset: one that has caught up with the end of the log holds every
// acknowledged write.
//
// The relay serves a checkpoint's history under the checkpoint's id: a replica that comes back with that id
// and an offset the log still has continues from there (PSYNC +CONTINUE); any other gets the whole dataset.
// When a newer checkpoint appears, replicas still on an older one are sent the log up to the new one's
// offset and then disconnected, so that they start again from it.
type Relay struct {
	cfg    RelayConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}

	fullSyncs, partialSyncs atomic.Uint64
}

// Syncs counts the replicas fed the whole dataset and those that continued their history.
func (r *Relay) Syncs() (full, partial uint64) { return r.fullSyncs.Load(), r.partialSyncs.Load() }

// RelayConfig says which log and checkpoints a relay serves.
type RelayConfig struct {
	Log         *txlog.Client
	Checkpoints *Checkpoints
	// Passwords are what a replica may give with AUTH before PSYNC, as they stand when it does (the
	// group's AUTH token, and the previous one while it is being rotated); none asks for no AUTH. When
	// they cannot be known (an error), no replica is let in.
	Passwords func() ([]string, error)
	Logger    *slog.Logger
}

// NewRelay returns a relay; Serve hands it connections.
func NewRelay(cfg RelayConfig) *Relay {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Relay{cfg: cfg, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
}

// Close disconnects every replica and waits for their goroutines.
func (r *Relay) Close() {
	r.cancel()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Serve talks to conn as a primary talks to a replica, until either ends; in holds what conn sends (the
// commands a caller already read from it first), authed says that the connection already authenticated
// (with the engine). It returns when the connection ends.
func (r *Relay) Serve(conn net.Conn, in io.Reader, authed bool) {
	r.mu.Lock()
	if r.ctx.Err() != nil {
		r.mu.Unlock()
		conn.Close()
		return
	}
	r.conns[conn] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, conn)
		r.mu.Unlock()
		conn.Close()
		r.wg.Done()
	}()
	if err := r.serve(conn, resp.NewReader(in, 16<<10), authed); err != nil && r.ctx.Err() == nil {
		r.cfg.Logger.Info("durable relay: replica link ended", "replica", conn.RemoteAddr().String(), "err", err)
	}
}

// passwords are the AUTH passwords a replica may give now, and whether they are known.
func (r *Relay) passwords() ([]string, bool) {
	if r.cfg.Passwords == nil {
		return nil, true
	}
	list, err := r.cfg.Passwords()
	if err != nil {
		r.cfg.Logger.Warn("durable relay: the AUTH tokens are not known", "err", err)
		return nil, false
	}
	return slices.DeleteFunc(list, func(p string) bool { return p == "" }), true
}

// handshakeTimeout bounds each step of a replica's handshake.
const handshakeTimeout = 30 * time.Second

// serve answers the handshake (PING, AUTH, REPLCONF) and then PSYNC.
func (r *Relay) serve(conn net.Conn, in *resp.Reader, authed bool) error {
	passwords, known := r.passwords()
	authed = authed || known && len(passwords) == 0
	eofCapable := false
	for {
		conn.SetDeadline(time.Now().Add(handshakeTimeout))
		v, err := in.ReadValue()
		if err != nil {
			peek, _ := in.Buffered().Peek(min(in.Buffered().Buffered(), 40))
			return fmt.Errorf("%w (then %q)", err, peek)
		}
		args := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			args[i] = e.Str
		}
		if len(args) == 0 {
			return errors.New("not a command")
		}
		var reply []byte
		switch name := strings.ToLower(args[0]); {
		case name == "auth":
			if len(args) < 2 || !known || !slices.Contains(passwords, args[len(args)-1]) {
				reply = resp.AppendError(nil, "WRONGPASS invalid username-password pair or user is disabled.")
			} else {
				authed = true
				reply = resp.AppendSimple(nil, "OK")
			}
		case !authed:
			reply = resp.AppendError(nil, "NOAUTH Authentication required.")
		case name == "ping":
			reply = resp.AppendSimple(nil, "PONG")
		case name == "replconf":
			for i := 1; i+1 < len(args); i += 2 {
				if strings.EqualFold(args[i], "capa") && strings.EqualFold(args[i+1], "eof") {
					eofCapable = true
				}
			}
			reply = resp.AppendSimple(nil, "OK")
		case name == "psync" && len(args) == 3:
			offset, _ := strconv.ParseInt(args[2], 10, 64)
			return r.feed(conn, in, args[1], offset-1, eofCapable)
		default:
			reply = resp.AppendError(nil, "ERR this port serves the shard's log to replicas only")
		}
		if _, err := conn.Write(reply); err != nil {
			return err
		}
	}
}

// feed answers PSYNC: the checkpoint (unless the replica continues its history) and then the log.
func (r *Relay) feed(conn net.Conn, in *resp.Reader, replid string, have int64, eofCapable bool) error {
	cp, err := r.cfg.Checkpoints.Latest()
	if err != nil {
		// The engine retries every second; the shard's first checkpoint comes when its shipper attaches.
		_, _ = conn.Write(resp.AppendError(nil, "LOADING the shard's log has no dataset yet"))
		return err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	from := cp.Offset
	_, end, err := r.cfg.Log.Read(ctx, cp.Offset, 1)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Time{})
	if replid == cp.ID && have >= int64(cp.Offset) && uint64(have) <= end {
		from = uint64(have)
		r.partialSyncs.Add(1)
		if _, err := fmt.Fprintf(conn, "+CONTINUE %s\r\n", cp.ID); err != nil {
			return err
		}
	} else {
		r.fullSyncs.Add(1)
		if _, err := fmt.Fprintf(conn, "+FULLRESYNC %s %d\r\n", cp.ID, cp.Offset); err != nil {
			return err
		}
		if err := r.sendDataset(conn, cp, eofCapable); err != nil {
			return err
		}
	}
	// The replica's acknowledgements (REPLCONF ACK) need no answer; reading them notices its end. A
	// replica that took the dataset delimited by a mark finds the mark only at the end of what it has
	// read, so, as a primary does, the relay sends the log only once the replica acknowledges (it has
	// loaded the dataset).
	loaded := make(chan struct{})
	go func() {
		defer cancel()
		r.readAcks(in, loaded)
	}()
	select {
	case <-loaded:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.stream(ctx, conn, cp, from)
}

// readAcks reads what a replica sends once fed (REPLCONF ACK, and newlines while it loads a dataset),
// closing loaded at its first acknowledgement, until the connection ends.
func (r *Relay) readAcks(in *resp.Reader, loaded chan struct{}) {
	br := in.Buffered()
	for {
		b, err := br.Peek(1)
		if err != nil {
			return
		}
		if b[0] == '\n' || b[0] == '\r' {
			_, _ = br.Discard(1)
			continue
		}
		if _, err := in.ReadValue(); err != nil {
			return
		}
		select {
		case <-loaded:
		default:
			close(loaded)
		}
	}
}

// sendDataset writes the checkpoint as a primary sends its RDB: delimited by a random mark to a replica
// that takes that (every Valkey and Redis since 2.8.18), else preceded by its length.
func (r *Relay) sendDataset(conn net.Conn, cp Checkpoint, eofCapable bool) error {
	data, err := r.cfg.Checkpoints.Open(cp)
	if err != nil {
		return err
	}
	defer data.Close()
	w := bufio.NewWriterSize(conn, 256<<10)
	if eofCapable {
		var m [20]byte
		_, _ = rand.Read(m[:])
		mark := hex.EncodeToString(m[:])
		fmt.Fprintf(w, "$EOF:%s\r\n", mark)
		if _, err := io.Copy(w, data); err != nil {
			return err
		}
		w.WriteString(mark)
	} else {
		all, err := io.ReadAll(data)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "$%d\r\n", len(all))
		w.Write(all)
	}
	return w.Flush()
}

// tailWait is how long one read of the log waits for it to grow.
const tailWait = 5 * time.Second

// stream sends the log's committed entries from offset from, as they come, until the connection or the
// relay ends, or a newer checkpoint replaces cp (then up to its offset).
func (r *Relay) stream(ctx context.Context, conn net.Conn, cp Checkpoint, from uint64) error {
	for {
		data, _, err := r.cfg.Log.Tail(ctx, from, 1<<20, tailWait)
		if ctx.Err() != nil {
			return errors.New("the replica's link closed")
		} else if err != nil {
			return err
		}
		if latest, err := r.cfg.Checkpoints.Latest(); err == nil && latest.ID != cp.ID && from+uint64(len(data)) >= latest.Offset {
			if latest.Offset > from {
				_, _ = conn.Write(data[:latest.Offset-from])
			}
			return fmt.Errorf("a newer checkpoint at %d", latest.Offset)
		}
		if len(data) == 0 {
			continue
		}
		conn.SetWriteDeadline(time.Now().Add(handshakeTimeout))
		if _, err := conn.Write(data); err != nil {
			return err
		}
		from += uint64(len(data))
	}
}
