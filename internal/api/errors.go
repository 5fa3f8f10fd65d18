package api

import (
	"errors"

	"github.com/ecache/ecache/internal/awsquery"
)

// Error is a modelled fault as the fault constructors return it: wire code, HTTP status and message.
// internal/service speaks of faults through this name, never through the wire package.
type Error = awsquery.Error

// IsFault reports whether err is, or wraps, a modelled fault.
func IsFault(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
