package awsquery

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
)

// Error is an AWS error as the Query protocol reports it: a code, an HTTP status and a message.
type Error struct {
	Code    string
	Status  int
	Message string
	Sender  bool // fault of the caller (Type Sender) rather than of the service (Type Receiver)
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns a sender fault.
func NewError(code string, status int, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg, Sender: true}
}

// Common errors of every Query API (not part of a service model).

// MissingParameter reports an absent required parameter.
func MissingParameter(name string) *Error {
	return NewError("MissingParameter", http.StatusBadRequest, "The request must contain the parameter %s", name)
}

// InvalidParameterValue reports a parameter that does not parse or is out of range.
func InvalidParameterValue(msg string) *Error {
	return NewError("InvalidParameterValue", http.StatusBadRequest, "%s", msg)
}

// InvalidAction reports an unknown action or version.
func InvalidAction(msg string) *Error {
	return NewError("InvalidAction", http.StatusBadRequest, "%s", msg)
}

// MissingAction reports a request without an Action.
func MissingAction() *Error {
	return NewError("MissingAction", http.StatusBadRequest, "The request must contain the parameter Action")
}

// MalformedQueryString reports a body or query string that is not a valid form.
func MalformedQueryString(msg string) *Error {
	return NewError("MalformedQueryString", http.StatusBadRequest, "%s", msg)
}

// InternalFailure hides an unexpected error; the details stay in the server log.
func InternalFailure() *Error {
	return &Error{Code: "InternalFailure", Status: http.StatusInternalServerError,
		Message: "The request processing has failed because of an unknown error, exception or failure."}
}

// NewRequestID returns a random request id in the UUID format AWS uses.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ErrorDocument renders the ErrorResponse document for e.
func ErrorDocument(ns string, e *Error, requestID string) []byte {
	var w XMLWriter
	w.StartNS("ErrorResponse", ns)
	w.Start("Error")
	if e.Sender {
		w.String("Type", "Sender")
	} else {
		w.String("Type", "Receiver")
	}
	w.String("Code", e.Code)
	w.String("Message", e.Message)
	w.End("Error")
	w.String("RequestId", requestID)
	w.End("ErrorResponse")
	return w.Bytes()
}

// ResponseDocument renders <ActionResponse><ActionResult>body</ActionResult><ResponseMetadata/></ActionResponse>
// into a buffer that is reused once the document is released. A nil body (operation without output)
// writes no result element.
func ResponseDocument(ns, action, resultWrapper string, body Marshaler, requestID string) *Document {
	d := documents.Get().(*Document)
	w := &d.w
	w.StartNS(action+"Response", ns)
	if body != nil && resultWrapper != "" {
		w.Start(resultWrapper)
		body.MarshalQueryXML(w)
		w.End(resultWrapper)
	}
	w.Start("ResponseMetadata")
	w.String("RequestId", requestID)
	w.End("ResponseMetadata")
	w.End(action + "Response")
	return d
}

// Document is a rendered response. Its buffer serves the next response once it is released, so that
// answers of hundreds of kilobytes do not each cost a new allocation.
type Document struct{ w XMLWriter }

var documents = sync.Pool{New: func() any { return new(Document) }}

// Bytes is the document; valid until Release.
func (d *Document) Bytes() []byte { return d.w.Bytes() }

// Release gives the buffer back for another response; d must not be used afterwards.
func (d *Document) Release() {
	d.w.buf.Reset()
	documents.Put(d)
}
