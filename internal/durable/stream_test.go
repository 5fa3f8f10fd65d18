package durable

import (
	"errors"
	"testing"

	"github.com/ecache/ecache/internal/resp"
)

// TestStreamCutPoints: the stream is cut only after whole commands and outside transactions, wherever the
// bytes happen to be split.
func TestStreamCutPoints(t *testing.T) {
	sel := resp.AppendCommand(nil, "SELECT", "0")
	set := resp.AppendCommand(nil, "SET", "k", "value\r\nwith crlf")
	multi := resp.AppendCommand(nil, "MULTI")
	incr := resp.AppendCommand(nil, "INCR", "n")
	exec := resp.AppendCommand(nil, "EXEC")
	var stream []byte
	var cuts []int // the cut points, in order
	for _, cmd := range [][]byte{sel, set, multi, incr, set, exec, set} {
		stream = append(stream, cmd...)
		cuts = append(cuts, len(stream))
	}
	safe := map[int]bool{cuts[0]: true, cuts[1]: true, cuts[5]: true, cuts[6]: true}
	// Feed the stream in pieces of every size; what is cut off must always end at a safe point, and
	// everything must come out in the end.
	for piece := 1; piece <= len(stream); piece++ {
		var c streamCutter
		var buf []byte
		out := 0
		for at := 0; at < len(stream); at += piece {
			buf = append(buf, stream[at:min(at+piece, len(stream))]...)
			cut, err := c.scan(buf)
			if err != nil {
				t.Fatalf("piece %d: %v", piece, err)
			}
			if cut > 0 {
				if !safe[out+cut] {
					t.Fatalf("piece %d: cut at %d, inside a command or a transaction", piece, out+cut)
				}
				buf = buf[cut:]
				c.consumed(cut)
				out += cut
			}
		}
		if out != len(stream) {
			t.Fatalf("piece %d: %d of %d bytes cut off", piece, out, len(stream))
		}
	}
	var c streamCutter
	if _, err := c.scan([]byte("+OK\r\n")); !errors.Is(err, errStream) {
		t.Errorf("a stream that is not commands: %v, want errStream", err)
	}
}
