package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of what a Reader accepts. An engine never sends more: its own proto-max-bulk-len is 512 MiB.
const (
	DefaultMaxBulk = 512 << 20
	maxDepth       = 64      // nesting of aggregates
	maxPrealloc    = 1 << 10 // elements allocated ahead of reading them
)

// ErrProtocol marks input that is not RESP.
var ErrProtocol = errors.New("protocol error")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// Reader reads RESP values from a buffered stream.
type Reader struct {
	br *bufio.Reader
	// MaxBulk bounds one bulk string's length (DefaultMaxBulk when zero).
	MaxBulk int64
}

// NewReader reads from r through a buffer of size bytes (4096 when smaller). When r is already a
// *bufio.Reader at least that large it is used as it is, so a caller may go on reading from it directly.
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, max(size, 4096))}
}

// Buffered is the reader's buffer: what a caller reads next that is not RESP (a replication stream) comes
// from here.
func (r *Reader) Buffered() *bufio.Reader { return r.br }

// ReadValue reads one value. Attributes are read and dropped; RESP2 nulls are returned as Null.
func (r *Reader) ReadValue() (Value, error) { return r.readValue(0) }

func (r *Reader) readValue(depth int) (Value, error) {
	line, err := r.line()
	if err != nil {
		return Value{}, err
	}
	t, body := Type(line[0]), line[1:]
	switch t {
	case SimpleString:
		return Value{Type: t, Str: simple(body)}, nil
	case SimpleError, BigNumber, Double:
		return Value{Type: t, Str: string(body)}, nil
	case Integer:
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: Integer, Int: n}, nil
	case Null:
		if len(body) != 0 {
			return Value{}, protocolError("null %q", body)
		}
		return Value{Type: Null}, nil
	case Boolean:
		switch string(body) {
		case "t":
			return Value{Type: Boolean, Int: 1}, nil
		case "f":
			return Value{Type: Boolean}, nil
		}
		return Value{}, protocolError("boolean %q", body)
	case BulkString, BulkError, VerbatimString:
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		if n == -1 && t == BulkString {
			return Value{Type: Null}, nil
		}
		s, err := r.bulk(n)
		if err != nil {
			return Value{}, err
		}
		if t == VerbatimString {
			if len(s) < 4 || s[3] != ':' {
				return Value{}, protocolError("verbatim string without a format")
			}
			s = s[4:]
		}
		return Value{Type: t, Str: s}, nil
	case Array, Set, Push, Map, Attribute:
		return r.aggregate(t, body, depth)
	}
	return Value{}, protocolError("unexpected type byte %q", line[0])
}

// aggregate reads the elements of an aggregate whose header line body (the count) was just read.
func (r *Reader) aggregate(t Type, body []byte, depth int) (Value, error) {
	n, err := parseInt(body)
	if err != nil {
		return Value{}, err
	}
	if n == -1 && t == Array {
		return Value{Type: Null}, nil
	}
	if n < 0 {
		return Value{}, protocolError("aggregate length %d", n)
	}
	if depth >= maxDepth {
		return Value{}, protocolError("nested deeper than %d", maxDepth)
	}
	if t == Map || t == Attribute {
		n *= 2
	}
	elems := make([]Value, 0, min(n, maxPrealloc))
	for range n {
		v, err := r.readValue(depth + 1)
		if err != nil {
			return Value{}, err
		}
		elems = append(elems, v)
	}
	if t == Attribute {
		return r.readValue(depth) // the value the attribute describes
	}
	return Value{Type: t, Elems: elems}, nil
}

// ReadRaw appends the next value to dst exactly as it arrived (attributes included) and returns the extended
// slice: a proxy forwards replies this way without decoding them.
func (r *Reader) ReadRaw(dst []byte) ([]byte, error) { return r.readRaw(dst, 0) }

func (r *Reader) readRaw(dst []byte, depth int) ([]byte, error) {
	line, err := r.line()
	if err != nil {
		return dst, err
	}
	t, body := Type(line[0]), line[1:]
	dst = append(dst, line...)
	dst = append(dst, '\r', '\n')
	switch t {
	case SimpleString, SimpleError, BigNumber, Double, Integer, Null, Boolean:
		return dst, nil
	case BulkString, BulkError, VerbatimString:
		n, err := parseInt(body)
		if err != nil || (n == -1 && t == BulkString) {
			return dst, err
		}
		if err := r.checkBulk(n); err != nil {
			return dst, err
		}
		return r.appendN(dst, n+2)
	case Array, Set, Push, Map, Attribute:
		n, err := parseInt(body)
		if err != nil || (n == -1 && t == Array) {
			return dst, err
		}
		if n < 0 || depth >= maxDepth {
			return dst, protocolError("aggregate length %d at depth %d", n, depth)
		}
		if t == Map || t == Attribute {
			n *= 2
		}
		for range n {
			if dst, err = r.readRaw(dst, depth+1); err != nil {
				return dst, err
			}
		}
		if t == Attribute {
			return r.readRaw(dst, depth)
		}
		return dst, nil
	}
	return dst, protocolError("unexpected type byte %q", line[0])
}

// simple returns a simple string's text, without allocating for the most common replies.
func simple(body []byte) string {
	switch string(body) {
	case "OK":
		return "OK"
	case "PONG":
		return "PONG"
	case "QUEUED":
		return "QUEUED"
	}
	return string(body)
}

// line reads a CRLF-terminated line and returns it without the CRLF. The slice is valid until the next read.
func (r *Reader) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, protocolError("line longer than %d bytes", r.br.Size())
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, protocolError("line %q not terminated by CRLF", line)
	}
	if len(line) == 2 {
		return nil, protocolError("empty line")
	}
	return line[:len(line)-2], nil
}

func (r *Reader) checkBulk(n int64) error {
	limit := r.MaxBulk
	if limit <= 0 {
		limit = DefaultMaxBulk
	}
	if n < 0 || n > limit {
		return protocolError("bulk length %d", n)
	}
	return nil
}

// bulk reads a bulk string's n bytes and its CRLF. The string is built straight from the read buffer: one
// allocation, however long it is.
func (r *Reader) bulk(n int64) (string, error) {
	if err := r.checkBulk(n); err != nil {
		return "", err
	}
	var s string
	if int(n)+2 <= r.br.Size() {
		b, err := r.br.Peek(int(n) + 2)
		if err != nil {
			return "", eof(err)
		}
		if b[n] != '\r' || b[n+1] != '\n' {
			return "", protocolError("bulk string not terminated by CRLF")
		}
		s = string(b[:n])
		_, _ = r.br.Discard(int(n) + 2)
		return s, nil
	}
	var sb strings.Builder
	sb.Grow(int(n))
	for left := int(n); left > 0; {
		b, err := r.br.Peek(min(left, r.br.Size()))
		if err != nil {
			return "", eof(err)
		}
		sb.Write(b)
		_, _ = r.br.Discard(len(b))
		left -= len(b)
	}
	crlf, err := r.br.Peek(2)
	if err != nil {
		return "", eof(err)
	}
	if crlf[0] != '\r' || crlf[1] != '\n' {
		return "", protocolError("bulk string not terminated by CRLF")
	}
	_, _ = r.br.Discard(2)
	return sb.String(), nil
}

// appendN appends the next n bytes of the stream to dst.
func (r *Reader) appendN(dst []byte, n int64) ([]byte, error) {
	for left := int(n); left > 0; {
		b, err := r.br.Peek(min(left, r.br.Size()))
		if err != nil {
			return dst, eof(err)
		}
		dst = append(dst, b...)
		_, _ = r.br.Discard(len(b))
		left -= len(b)
	}
	return dst, nil
}

// eof turns an end of stream inside a value into io.ErrUnexpectedEOF.
func eof(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseInt parses a decimal integer without allocating.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, protocolError("integer %q", b)
	}
	neg := b[0] == '-'
	if neg || b[0] == '+' {
		b = b[1:]
		if len(b) == 0 {
			return 0, protocolError("integer %q", b)
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, protocolError("integer %q", b)
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, protocolError("integer %q overflows", b)
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, nil
}
