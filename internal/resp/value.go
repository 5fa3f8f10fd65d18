package resp

import (
	"fmt"
)

// Type is a RESP value's type, spelled as its first byte on the wire.
type Type byte

// The RESP2 types, then the RESP3 ones.
const (
	SimpleString   Type = '+'
	SimpleError    Type = '-'
	Integer        Type = ':'
	BulkString     Type = '$'
	Array          Type = '*'
	Null           Type = '_' // also RESP2's null bulk string ($-1) and null array (*-1)
	Boolean        Type = '#'
	Double         Type = ','
	BigNumber      Type = '('
	BulkError      Type = '!'
	VerbatimString Type = '='
	Map            Type = '%'
	Set            Type = '~'
	Push           Type = '>'
	Attribute      Type = '|' // never returned by ReadValue: attributes are read and dropped
)

// Value is one RESP value.
type Value struct {
	Type Type
	// Str is the text of SimpleString, SimpleError, BulkString, BulkError, BigNumber and Double values, and of
	// a VerbatimString without its three-letter format and colon.
	Str string
	// Int is an Integer's value; a Boolean's is 1 or 0.
	Int int64
	// Elems are the elements of an Array, Set or Push, and a Map's keys and values alternately.
	Elems []Value
}

// IsNull reports whether v is a null (RESP3 null, or RESP2's null bulk string or null array).
func (v Value) IsNull() bool { return v.Type == Null }

// Err returns v as an Error when it is an error reply (simple or bulk), and nil otherwise.
func (v Value) Err() error {
	if v.Type == SimpleError || v.Type == BulkError {
		return Error(v.Str)
	}
	return nil
}

// Error is an error reply from an engine, such as "READONLY You can't write against a read only replica." or
// "NOAUTH Authentication required.".
type Error string

func (e Error) Error() string { return string(e) }

// Code is the error's first word ("READONLY", "NOAUTH", "LOADING", "MOVED"...).
func (e Error) Code() string {
	for i := 0; i < len(e); i++ {
		if e[i] == ' ' {
			return string(e[:i])
		}
	}
	return string(e)
}

// String returns a string reply (simple, bulk or verbatim) as a Go string; any other reply is an error. It
// takes Do's two results, so that calls chain: resp.String(c.Do(ctx, "INFO")).
func String(v Value, err error) (string, error) {
	if err != nil {
		return "", err
	}
	switch v.Type {
	case SimpleString, BulkString, VerbatimString:
		return v.Str, nil
	}
	return "", fmt.Errorf("reply of type %q, want a string", byte(v.Type))
}

// Int returns an integer reply as an int64; any other reply is an error. It chains like String.
func Int(v Value, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if v.Type != Integer {
		return 0, fmt.Errorf("reply of type %q, want an integer", byte(v.Type))
	}
	return v.Int, nil
}
