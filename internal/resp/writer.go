package resp

import "strconv"

// AppendCommand appends a command (an array of bulk strings) to dst: the way every request is sent.
func AppendCommand(dst []byte, args ...string) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulkString(dst, a)
	}
	return dst
}

// AppendCommandBytes is AppendCommand for arguments held as bytes.
func AppendCommandBytes(dst []byte, args ...[]byte) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

// AppendArrayHeader appends the header of an array of n elements; the elements follow it.
func AppendArrayHeader(dst []byte, n int) []byte { return appendHeader(dst, Array, int64(n)) }

// AppendBulk appends b as a bulk string.
func AppendBulk(dst, b []byte) []byte {
	dst = appendHeader(dst, BulkString, int64(len(b)))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendHeader(dst, BulkString, int64(len(s)))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendSimple appends s as a simple string; s must not contain CR or LF.
func AppendSimple(dst []byte, s string) []byte { return appendLine(dst, SimpleString, s) }

// AppendError appends msg as a simple error ("ERR ...", "READONLY ..."); msg must not contain CR or LF.
func AppendError(dst []byte, msg string) []byte { return appendLine(dst, SimpleError, msg) }

// AppendInt appends n as an integer.
func AppendInt(dst []byte, n int64) []byte { return appendHeader(dst, Integer, n) }

// AppendNull appends RESP2's null bulk string, which RESP3 clients read as null too.
func AppendNull(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

func appendHeader(dst []byte, t Type, n int64) []byte {
	dst = append(dst, byte(t))
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

func appendLine(dst []byte, t Type, s string) []byte {
	dst = append(dst, byte(t))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}
