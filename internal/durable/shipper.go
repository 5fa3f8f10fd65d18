// Package durable builds the durability of replication groups (Durability sync and async) on the
// transaction log (internal/txlog). The Shipper copies a primary's replication stream into the log and
// acknowledges to the primary only what the log has committed; the Endpoint answers a client's write only
// once the log has it.
package durable

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecache/ecache/internal/rdb"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

// ShipperConfig says which primary to copy into which log.
type ShipperConfig struct {
	Primary resp.Node
	Log     *txlog.Client
	// Epoch is the primary's term: the shipper fences the log with it first, so that a shipper of an
	// older primary commits nothing more.
	Epoch uint64
	// Dataset keeps the primary's dataset (an RDB file, which write copies into a writer) taken when the
	// shipper attaches: the state of the log at logOffset, whose entries after it follow the dataset. It
	// must be durable when Dataset returns: the shipper acknowledges nothing before. Nil discards it.
	Dataset func(logOffset uint64, write func(io.Writer) error) error
	// MaxBatch is the bytes one append usually takes at most (default 1 MiB); a command or a transaction
	// larger than that goes in one append of its own size.
	MaxBatch int
	// Linger, when it returns more than zero, is how long the stream may wait before it is appended, to
	// gather more into one append (async durability, where no write waits for it). Nil: none.
	Linger func() time.Duration
}

// Shipper is a primary's replication stream on its way into the log.
type Shipper struct {
	cfg ShipperConfig
	// replBase and logBase are the replication offset and the log offset of the first streamed byte.
	replBase, logBase uint64
	shipped           atomic.Uint64 // stream bytes committed to the log
	attached          chan struct{}
}

// maxAppendBytes bounds one append: the log replicas take 64 MiB at most.
const maxAppendBytes = 32 << 20

const (
	// streamIdle bounds the wait for the primary's next bytes: it sends a PING every 10 s (repl-ping-replica-period).
	streamIdle = time.Minute
	ackEvery   = time.Second
	ackTimeout = 10 * time.Second
)

// Ship attaches to the primary as a replica and copies its replication stream into the log until ctx ends
// or the link breaks. Bytes are appended in arrival order, what arrived during one append in the next; after
// each commit the shipper acknowledges the stream up to it (REPLCONF ACK), and every second as well, so a
// client's WAIT 1 on the primary returns once its writes are in the log.
func Ship(ctx context.Context, cfg ShipperConfig) (*Shipper, <-chan error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1 << 20
	}
	s := &Shipper{cfg: cfg, attached: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	return s, done
}

// Attached is closed once the shipper has the primary's dataset (Dataset is written) and follows its
// stream.
func (s *Shipper) Attached() <-chan struct{} { return s.attached }

// Committed is the replication offset up to which the log has the primary's stream.
func (s *Shipper) Committed() uint64 { return s.replBase + s.shipped.Load() }

func (s *Shipper) run(ctx context.Context) error {
	end, err := s.cfg.Log.Fence(ctx, s.cfg.Epoch)
	if err != nil {
		return fmt.Errorf("shipper: fence: %w", err)
	}
	s.logBase = end
	c, err := resp.Dial(ctx, s.cfg.Primary, resp.Options{DialTimeout: 2 * time.Second, ReadTimeout: streamIdle, ReadBufferSize: 256 << 10})
	if err != nil {
		return fmt.Errorf("shipper: %w", err)
	}
	defer c.Close()
	// Without "capa eof" the primary sends the dataset with its length, so the stream that follows is
	// read exactly from where the dataset ends.
	if _, err := c.Do(ctx, "REPLCONF", "capa", "psync2"); err != nil {
		return fmt.Errorf("shipper: %w", err)
	}
	if err := c.Send(ctx, "PSYNC", "?", "-1"); err != nil {
		return fmt.Errorf("shipper: %w", err)
	}
	conn, r := c.NetConn(), c.Reader().Buffered()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if s.replBase, err = fullResync(conn, r); err != nil {
		return fmt.Errorf("shipper: %w", err)
	}
	keep := s.cfg.Dataset
	if keep == nil {
		keep = func(_ uint64, write func(io.Writer) error) error { return write(io.Discard) }
	}
	err = keep(s.logBase, func(w io.Writer) error {
		_, err := rdb.ReadTransfer(conn, r, w)
		return err
	})
	if err != nil {
		return fmt.Errorf("shipper: dataset: %w", err)
	}
	close(s.attached)
	var wmu sync.Mutex
	// An acknowledgement that cannot be written ends the link: the primary would drop a replica that
	// stays silent, and WAIT would not return meanwhile.
	ack := func() error {
		wmu.Lock()
		defer wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(ackTimeout))
		_, err := conn.Write(resp.AppendCommand(nil, "REPLCONF", "ACK", strconv.FormatUint(s.Committed(), 10)))
		if err != nil {
			conn.Close()
		}
		return err
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(ackEvery)
		defer t.Stop()
		for {
			select {
			case <-tctx.Done():
				return
			case <-t.C:
				_ = ack()
			}
		}
	}()
	return s.stream(ctx, conn, r, ack)
}

// stream appends the primary's stream to the log, cut only between commands and outside transactions,
// several appends in flight, and acknowledges each commit.
func (s *Shipper) stream(ctx context.Context, conn net.Conn, r *bufio.Reader, ack func() error) error {
	app := newAppender(ctx, s.cfg.Log, s.cfg.Epoch, s.logBase, s.cfg.Linger, func(n int) {
		s.shipped.Add(uint64(n))
		_ = ack() // a broken link ends the read below
	})
	defer app.close()
	buf := make([]byte, 0, s.cfg.MaxBatch)
	var cutter streamCutter
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxAppendBytes {
				return fmt.Errorf("shipper: a command or transaction over %d bytes", maxAppendBytes)
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		conn.SetReadDeadline(time.Now().Add(streamIdle))
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		// Take what else is already here, up to the buffer.
		for len(buf) < cap(buf) && r.Buffered() > 0 {
			k, _ := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+k]
		}
		cut, serr := cutter.scan(buf)
		if serr != nil {
			return fmt.Errorf("shipper: %w", serr)
		}
		if cut > 0 {
			if aerr := app.add(bytes.Clone(buf[:cut])); aerr != nil {
				return fmt.Errorf("shipper: append: %w", aerr)
			}
			buf = buf[:copy(buf, buf[cut:])]
			cutter.consumed(cut)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("shipper: stream: %w", err)
		}
	}
}

// fullResync reads the primary's answer to PSYNC ? -1 (+FULLRESYNC <replid> <offset>, after any keep-alive
// newlines) and returns the offset the stream starts at.
func fullResync(conn net.Conn, r *bufio.Reader) (uint64, error) {
	for {
		conn.SetReadDeadline(time.Now().Add(streamIdle))
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "+FULLRESYNC" {
			return 0, errors.New("PSYNC: unexpected reply " + line)
		}
		return strconv.ParseUint(f[2], 10, 64)
	}
}
