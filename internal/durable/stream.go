package durable

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// streamCutter finds where a primary's replication stream may be cut: after a whole command and outside a
// transaction. The log ends only at such points, so whoever applies it up to its end (a replica being
// promoted, a shard being restored) never stops halfway through a command or a MULTI, and the next
// primary's stream follows on cleanly.
//
// The stream is fed in growing buffers that start at a cut point: scan takes the whole buffer each time
// and resumes where it stopped; consumed says that a prefix was cut off.
type streamCutter struct {
	pos     int // what is parsed: a command boundary
	safe    int // the last cut point found
	inMulti bool
}

// errStream is a replication stream that is not a sequence of RESP arrays of bulk strings.
var errStream = errors.New("durable: malformed replication stream")

// scan parses the whole commands of buf from where it stopped and returns the last cut point.
func (s *streamCutter) scan(buf []byte) (int, error) {
	for {
		n, args, err := parseCommand(buf[s.pos:])
		if err != nil {
			return s.safe, fmt.Errorf("%w at byte %d: %v", errStream, s.pos, err)
		}
		if n == 0 {
			return s.safe, nil
		}
		s.pos += n
		switch name := args[0]; {
		case bytes.EqualFold(name, []byte("multi")):
			s.inMulti = true
		case bytes.EqualFold(name, []byte("exec")), bytes.EqualFold(name, []byte("discard")):
			s.inMulti = false
		}
		if !s.inMulti {
			s.safe = s.pos
		}
	}
}

// consumed records that the first n bytes (a cut point) left the buffer.
func (s *streamCutter) consumed(n int) {
	s.pos -= n
	s.safe -= n
}

// parseCommand reads the command (an array of bulk strings) at the start of b: its length and its
// arguments (slices of b), or 0 when b holds only part of one.
func parseCommand(b []byte) (int, [][]byte, error) {
	if len(b) == 0 {
		return 0, nil, nil
	}
	if b[0] != '*' {
		return 0, nil, fmt.Errorf("%q is not an array", b[0])
	}
	count, pos, ok, err := header(b, 0)
	if !ok || err != nil {
		return 0, nil, err
	}
	if count == 0 {
		return 0, nil, errors.New("empty command")
	}
	args := make([][]byte, 0, min(count, 64))
	for i := int64(0); i < count; i++ {
		if pos >= len(b) {
			return 0, nil, nil
		}
		if b[pos] != '$' {
			return 0, nil, fmt.Errorf("%q is not a bulk string", b[pos])
		}
		size, next, ok, err := header(b, pos)
		if !ok || err != nil {
			return 0, nil, err
		}
		end := next + int(size) + 2
		if end > len(b) {
			return 0, nil, nil
		}
		args = append(args, b[next:next+int(size)])
		pos = end
	}
	return pos, args, nil
}

// header reads "<type><n>\r\n" at b[at:]: n and where what follows starts; ok is false when the line is not
// whole yet.
func header(b []byte, at int) (int64, int, bool, error) {
	end := bytes.Index(b[at:], []byte("\r\n"))
	if end < 0 {
		if len(b)-at > 32 {
			return 0, 0, false, errors.New("header line too long")
		}
		return 0, 0, false, nil
	}
	n, err := strconv.ParseInt(string(b[at+1:at+end]), 10, 64)
	if err != nil || n < 0 || n > 1<<32 {
		return 0, 0, false, fmt.Errorf("bad length %q", b[at+1:at+end])
	}
	return n, at + end + 2, true, nil
}
