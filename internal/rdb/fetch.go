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

	"github.com/ecache/ecache/internal/replication"
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
func Fetch(ctx context.Context, n replication.Node, w io.Writer) (int64, error) {
	conn, err := replication.Connect(ctx, n, dialTimeout)
	if err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(conn, 256<<10)
	cmd := func(args ...string) error {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		conn.SetDeadline(time.Now().Add(idleTimeout))
		if _, err := io.WriteString(conn, b.String()); err != nil {
			return err
		}
		line, err := readLine(r)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("%s: %s", args[0], strings.TrimPrefix(line, "-"))
		}
		return nil
	}
	if n.Password != "" {
		if err := cmd("AUTH", n.Password); err != nil {
			return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
		}
	}
	if err := cmd("REPLCONF", "rdb-only", "1"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	// Valkey 8 and later: on an RDB channel the forked child writes the file to this connection itself,
	// instead of through a pipe that the engine's main thread relays between client commands. Engines
	// without dual-channel replication refuse the option, and relay.
	if err := cmd("REPLCONF", "rdb-channel", "1"); err != nil && !strings.Contains(err.Error(), "Unrecognized REPLCONF option") {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	if err := cmd("REPLCONF", "capa", "eof"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	conn.SetDeadline(time.Now().Add(idleTimeout))
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nSYNC\r\n"); err != nil {
		return 0, fmt.Errorf("rdb: %s: %w", n.Addr, err)
	}
	// Newlines keep the link alive while the engine forks; then "$<length>" or "$EOF:<mark>".
	var header string
	for {
		conn.SetDeadline(time.Now().Add(idleTimeout))
		line, err := readLine(r)
		if err != nil {
			return 0, fmt.Errorf("rdb: %s: waiting for the RDB: %w", n.Addr, err)
		}
		if line == "" || strings.HasPrefix(line, "$ENDOFF:") {
			continue // keep-alive, or the replication offset an RDB channel is told first
		}
		if strings.HasPrefix(line, "-") {
			return 0, fmt.Errorf("rdb: %s: SYNC: %s", n.Addr, line[1:])
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
			return 0, fmt.Errorf("rdb: %s: bad end mark in %q", n.Addr, header)
		}
		if err := copyUntilMark(out, body, mark); err != nil {
			return out.n, fmt.Errorf("rdb: %s: %w", n.Addr, err)
		}
	case strings.HasPrefix(header, "$"):
		size, err := strconv.ParseInt(header[1:], 10, 64)
		if err != nil || size < 0 {
			return 0, fmt.Errorf("rdb: %s: bad length in %q", n.Addr, header)
		}
		if _, err := io.CopyN(out, body, size); err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrTruncated
			}
			return out.n, fmt.Errorf("rdb: %s: %w", n.Addr, err)
		}
	default:
		return 0, fmt.Errorf("rdb: %s: unexpected reply %q to SYNC", n.Addr, header)
	}
	if err := out.check(); err != nil {
		return out.n, fmt.Errorf("rdb: %s: %w", n.Addr, err)
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
	if !bytes.HasPrefix(t.head, []byte("REDIS")) && !bytes.HasPrefix(t.head, []byte("VALKEY")) {
		return fmt.Errorf("not an RDB file (starts with %q)", t.head)
	}
	if len(t.last) < 9 || t.last[0] != 0xFF {
		return ErrTruncated
	}
	return nil
}

// FormatVersion reads the format version from the first bytes of an RDB file ("REDIS0011", or
// "VALKEY080" for Valkey's own formats).
func FormatVersion(header []byte) (int, error) {
	var digits []byte
	switch {
	case bytes.HasPrefix(header, []byte("REDIS")) && len(header) >= 9:
		digits = header[5:9]
	case bytes.HasPrefix(header, []byte("VALKEY")) && len(header) >= 9:
		digits = header[6:9]
	default:
		return 0, errors.New("not an RDB file")
	}
	v, err := strconv.Atoi(string(digits))
	if err != nil || v < 1 {
		return 0, errors.New("not an RDB file")
	}
	return v, nil
}
