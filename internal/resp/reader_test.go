package resp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadValue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    Value
		wantErr string
	}{
		{"simple", "+OK\r\n", Value{Type: SimpleString, Str: "OK"}, ""},
		{"empty simple", "+\r\n", Value{Type: SimpleString}, ""},
		{"error", "-READONLY You can't write.\r\n", Value{Type: SimpleError, Str: "READONLY You can't write."}, ""},
		{"integer", ":42\r\n", Value{Type: Integer, Int: 42}, ""},
		{"negative integer", ":-7\r\n", Value{Type: Integer, Int: -7}, ""},
		{"bulk", "$5\r\nhello\r\n", Value{Type: BulkString, Str: "hello"}, ""},
		{"bulk with CRLF inside", "$4\r\na\r\nb\r\n", Value{Type: BulkString, Str: "a\r\nb"}, ""},
		{"empty bulk", "$0\r\n\r\n", Value{Type: BulkString}, ""},
		{"null bulk", "$-1\r\n", Value{Type: Null}, ""},
		{"array", "*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n", Value{Type: Array, Elems: []Value{{Type: BulkString, Str: "foo"}, {Type: Integer, Int: 1}, {Type: Null}}}, ""},
		{"array with error", "*2\r\n+OK\r\n-ERR x\r\n", Value{Type: Array, Elems: []Value{{Type: SimpleString, Str: "OK"}, {Type: SimpleError, Str: "ERR x"}}}, ""},
		{"empty array", "*0\r\n", Value{Type: Array, Elems: []Value{}}, ""},
		{"null array", "*-1\r\n", Value{Type: Null}, ""},
		{"nested", "*1\r\n*1\r\n+a\r\n", Value{Type: Array, Elems: []Value{{Type: Array, Elems: []Value{{Type: SimpleString, Str: "a"}}}}}, ""},
		{"resp3 null", "_\r\n", Value{Type: Null}, ""},
		{"true", "#t\r\n", Value{Type: Boolean, Int: 1}, ""},
		{"false", "#f\r\n", Value{Type: Boolean}, ""},
		{"double", ",3.25\r\n", Value{Type: Double, Str: "3.25"}, ""},
		{"big number", "(3492890328409238509324850943850943825024385\r\n", Value{Type: BigNumber, Str: "3492890328409238509324850943850943825024385"}, ""},
		{"bulk error", "!9\r\nERR a\r\nbc\r\n", Value{Type: BulkError, Str: "ERR a\r\nbc"}, ""},
		{"verbatim", "=9\r\ntxt:hello\r\n", Value{Type: VerbatimString, Str: "hello"}, ""},
		{"map", "%1\r\n+k\r\n:1\r\n", Value{Type: Map, Elems: []Value{{Type: SimpleString, Str: "k"}, {Type: Integer, Int: 1}}}, ""},
		{"set", "~2\r\n+a\r\n+b\r\n", Value{Type: Set, Elems: []Value{{Type: SimpleString, Str: "a"}, {Type: SimpleString, Str: "b"}}}, ""},
		{"push", ">2\r\n+message\r\n+x\r\n", Value{Type: Push, Elems: []Value{{Type: SimpleString, Str: "message"}, {Type: SimpleString, Str: "x"}}}, ""},
		{"attribute dropped", "|1\r\n+ttl\r\n:3\r\n+value\r\n", Value{Type: SimpleString, Str: "value"}, ""},
		{"bad type", "?x\r\n", Value{}, "protocol error"},
		{"bad integer", ":x\r\n", Value{}, "protocol error"},
		{"integer overflow", ":99999999999999999999\r\n", Value{}, "protocol error"},
		{"bad boolean", "#x\r\n", Value{}, "protocol error"},
		{"bad bulk length", "$-2\r\n", Value{}, "protocol error"},
		{"bad aggregate length", "*-2\r\n", Value{}, "protocol error"},
		{"verbatim without format", "=2\r\nab\r\n", Value{}, "protocol error"},
		{"short bulk", "$5\r\nhel", Value{}, "unexpected EOF"},
		{"short array", "*2\r\n+a\r\n", Value{}, "EOF"},
		{"bulk without CRLF", "$2\r\nhixx", Value{}, "protocol error"},
		{"line without CR", "+OK\n", Value{}, "protocol error"},
		{"empty line", "\r\n", Value{}, "protocol error"},
		{"truncated line", "+OK", Value{}, "unexpected EOF"},
		{"empty", "", Value{}, "EOF"},
		{"too deep", strings.Repeat("*1\r\n", maxDepth+1) + "+a\r\n", Value{}, "nested deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewReader(strings.NewReader(tc.in), 0).ReadValue()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadValue(%q) = %+v, %v, want error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadValue(%q) error = %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadValue(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			raw, err := NewReader(strings.NewReader(tc.in), 0).ReadRaw([]byte("x"))
			if err != nil || string(raw) != "x"+tc.in {
				t.Errorf("ReadRaw(%q) = %q, %v, want the input after the prefix", tc.in, raw, err)
			}
		})
	}
}

// TestReadLongBulk reads bulk strings longer than the read buffer, delivered a byte at a time.
func TestReadLongBulk(t *testing.T) {
	long := strings.Repeat("0123456789", 1000)
	in := "$10000\r\n" + long + "\r\n" + ":1\r\n"
	r := NewReader(iotest.OneByteReader(strings.NewReader(in)), 0)
	v, err := r.ReadValue()
	if err != nil || v.Str != long {
		t.Fatalf("ReadValue = %d bytes, %v, want %d bytes", len(v.Str), err, len(long))
	}
	if v, err := r.ReadValue(); err != nil || v.Int != 1 {
		t.Fatalf("value after the long bulk = %+v, %v, want :1", v, err)
	}
	raw, err := NewReader(strings.NewReader(in), 0).ReadRaw(nil)
	if err != nil || string(raw) != "$10000\r\n"+long+"\r\n" {
		t.Fatalf("ReadRaw = %d bytes, %v", len(raw), err)
	}
	if _, err := NewReader(strings.NewReader("$10000\r\n"+long+"xx"), 0).ReadValue(); !errors.Is(err, ErrProtocol) {
		t.Errorf("long bulk without CRLF: %v, want a protocol error", err)
	}
	small := &Reader{br: NewReader(strings.NewReader(in), 0).br, MaxBulk: 100}
	if _, err := small.ReadValue(); !errors.Is(err, ErrProtocol) {
		t.Errorf("bulk over MaxBulk: %v, want a protocol error", err)
	}
}

// TestReadPipelined reads several replies from one stream and sees where it ends.
func TestReadPipelined(t *testing.T) {
	r := NewReader(strings.NewReader("+OK\r\n:2\r\n$1\r\nx\r\n"), 0)
	var got []Value
	for {
		v, err := r.ReadValue()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	want := []Value{{Type: SimpleString, Str: "OK"}, {Type: Integer, Int: 2}, {Type: BulkString, Str: "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"command", AppendCommand(nil, "SET", "k", ""), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"},
		{"command bytes", AppendCommandBytes([]byte("x"), []byte("GET"), []byte("a\r\nb")), "x*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n"},
		{"simple", AppendSimple(nil, "OK"), "+OK\r\n"},
		{"error", AppendError(nil, "ERR no"), "-ERR no\r\n"},
		{"int", AppendInt(nil, -12), ":-12\r\n"},
		{"null", AppendNull(nil), "$-1\r\n"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// FuzzReader checks that ReadRaw and ReadValue agree: what ReadRaw returns decodes to what ReadValue reads
// from the same input, and neither panics.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "%1\r\n+k\r\n_\r\n", "|1\r\n+a\r\n+b\r\n#t\r\n", "=5\r\ntxt:a\r\n", "$-1\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := NewReader(bytes.NewReader(in), 0).ReadValue()
		raw, rawErr := NewReader(bytes.NewReader(in), 0).ReadRaw(nil)
		if err != nil {
			return
		}
		if rawErr != nil {
			t.Fatalf("ReadValue read %+v but ReadRaw failed: %v", v, rawErr)
		}
		again, err := NewReader(bytes.NewReader(raw), 0).ReadValue()
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("ReadValue(ReadRaw) = %+v, %v, want %+v", again, err, v)
		}
	})
}
