// Package rdb takes a point-in-time copy of a running Valkey/Redis OSS engine's dataset as an RDB file, the
// way a replica does: it connects, declares itself an RDB-only replica that can read a diskless transfer
// (REPLCONF rdb-only 1, REPLCONF capa eof; on Valkey 8+ also an RDB channel, REPLCONF rdb-channel 1) and
// asks for a full synchronisation (SYNC). The engine forks, streams the RDB over the connection and keeps
// serving clients; nothing is written to the engine's own directory. CopyKeys copies an RDB file's keys into
// a running engine. Imported by internal/controller.
package rdb

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
	"time"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resp"
)

// ErrTruncated means the transfer ended before a complete RDB arrived.
var ErrTruncated = errors.New("rdb: transfer ended before the end of the RDB file")

const (
	dialTimeout = 2 * time.Second
	// idleTimeout bounds each read: the engine sends a newline every second while it prepares the RDB.
	idleTimeout = 30 * time.Second
	eofMarkLen  = 40
)

// Fetch copies n's dataset as an RDB file to w and returns its size. It fails, having written a partial file,
// if the transfer breaks or what arrives does not end like an RDB file; callers write to a temporary file and
// keep it only on success.
func Fetch(ctx context.Context, n resp.Node, w io.Writer) (int64, error) {
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: dialTimeout, ReadTimeout: idleTimeout, ReadBufferSize: 256 << 10})
	if err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "REPLCONF", "rdb-only", "1"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	// Valkey 8 and later: on an RDB channel the forked child writes the file to this connection itself,
	// instead of through a pipe that the engine's main thread relays between client commands. Engines
	// without dual-channel replication refuse the option, and relay.
	var refused resp.Error
	if _, err := c.Do(ctx, "REPLCONF", "rdb-channel", "1"); err != nil && !(errors.As(err, &refused) && strings.Contains(string(refused), "Unrecognized REPLCONF option")) {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	if _, err := c.Do(ctx, "REPLCONF", "capa", "eof"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	if err := c.Send(ctx, "SYNC"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	// What follows SYNC is not RESP: read it from the connection's buffer, with an idle deadline per read
	// and the connection interrupted when ctx ends.
	conn, r := c.NetConn(), c.Reader().Buffered()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	size, err := ReadTransfer(conn, r, w)
	if err != nil {
		return size, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	return size, nil
}

// ReadTransfer reads the RDB file a primary sends a replica after a full synchronisation (SYNC, or PSYNC
// answered +FULLRESYNC) from r, the replication connection conn's buffered reader, to w, and returns its
// size; r is left at the first byte of the replication stream that follows. Each read pushes conn's
// deadline idleTimeout ahead.
func ReadTransfer(conn net.Conn, r *bufio.Reader, w io.Writer) (int64, error) {
	// Newlines keep the link alive while the engine forks; then "$<length>" or "$EOF:<mark>".
	var header string
	for {
		conn.SetDeadline(time.Now().Add(idleTimeout))
		line, err := readLine(r)
		if err != nil {
			return 0, fmt.Errorf("waiting for the RDB: %w", err)
		}
		if line == "" || strings.HasPrefix(line, "$ENDOFF:") {
			continue // keep-alive, or the replication offset an RDB channel is told first
		}
		if strings.HasPrefix(line, "-") {
			return 0, fmt.Errorf("SYNC: %s", line[1:])
		}
		header = line
		break
	}
	out := &tail{w: w}
	body := &deadlineReader{conn: conn, r: r}
	switch {
	case strings.HasPrefix(header, "$EOF:"):
		mark := []byte(header[len("$EOF:"):])
		if len(mark) != eofMarkLen {
			return 0, fmt.Errorf("bad end mark in %q", header)
		}
		if err := copyUntilMark(out, body, mark); err != nil {
			return out.n, err
		}
	case strings.HasPrefix(header, "$"):
		size, err := strconv.ParseInt(header[1:], 10, 64)
		if err != nil || size < 0 {
			return 0, fmt.Errorf("bad length in %q", header)
		}
		if _, err := io.CopyN(out, body, size); err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrTruncated
			}
			return out.n, err
		}
	default:
		return 0, fmt.Errorf("unexpected reply %q to SYNC", header)
	}
	if err := out.check(); err != nil {
		return out.n, err
	}
	return out.n, nil
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// deadlineReader pushes the connection's deadline forward before every read.
type deadlineReader struct {
	conn net.Conn
	r    io.Reader
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	d.conn.SetDeadline(time.Now().Add(idleTimeout))
	return d.r.Read(p)
}

// copyUntilMark copies r to w up to the 40-byte mark that ends a diskless transfer, without the mark. The
// last len(mark) bytes read are held back (they may be the start of the mark) at the front of the buffer, and
// each read lands right after them.
func copyUntilMark(w io.Writer, r io.Reader, mark []byte) error {
	buf := make([]byte, len(mark)+256<<10)
	held := 0
	for {
		k, err := r.Read(buf[held:])
		n := held + k
		if n >= len(mark) && bytes.Equal(buf[n-len(mark):n], mark) {
			_, werr := w.Write(buf[:n-len(mark)])
			return werr
		}
		if n > len(mark) {
			if _, werr := w.Write(buf[:n-len(mark)]); werr != nil {
				return werr
			}
			held = copy(buf, buf[n-len(mark):n])
		} else {
			held = n
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ErrTruncated
			}
			return err
		}
	}
}

// tail counts what passes to w and keeps its first and last bytes, to check that a whole RDB file arrived.
type tail struct {
	w    io.Writer
	n    int64
	head []byte
	last []byte
}

func (t *tail) Write(p []byte) (int, error) {
	k, err := t.w.Write(p)
	t.n += int64(k)
	if len(t.head) < 9 {
		t.head = append(t.head, p[:min(k, 9-len(t.head))]...)
	}
	if k >= 9 {
		t.last = append(t.last[:0], p[k-9:k]...)
	} else {
		t.last = append(t.last, p[:k]...)
		if len(t.last) > 9 {
			t.last = append(t.last[:0], t.last[len(t.last)-9:]...)
		}
	}
	return k, err
}

// check: an RDB file starts with its magic ("REDIS" or "VALKEY" and a version) and ends with the EOF opcode
// 0xFF and an 8-byte checksum.
func (t *tail) check() error {
	if _, err := engine.RDBFormatVersion(t.head); err != nil {
		return fmt.Errorf("not an RDB file (starts with %q)", t.head)
	}
	if len(t.last) < 9 || t.last[0] != 0xFF {
		return ErrTruncated
	}
	return nil
}
