package api

import (
	"context"
	"net/http"

	"github.com/ecache/ecache/internal/awsquery"
)

// Operation is one entry of the dispatch table.
type Operation struct {
	Name          string
	ResultWrapper string   // element wrapping the output members; empty when the operation has no output
	Errors        []string // modelled fault shapes this operation may return

	// Decode reads the operation's input from form parameters; the error is a modelled
	// InvalidParameterValue or MissingParameter.
	Decode func(d *awsquery.Decoder) (any, error)
	// Call invokes the operation on s; the output is nil for operations without one.
	Call      func(ctx context.Context, s Service, in any) (awsquery.Marshaler, error)
	NewInput  func() any
	NewOutput func() awsquery.Marshaler // nil when the operation has no output
}

// InputValidator is implemented by a Service that checks every decoded input before its operation runs,
// for rules that all operations share (the lengths of resource names).
type InputValidator interface {
	ValidateInput(in any) error
}

// NotImplementedCode is the code of the one error that operations not implemented yet return.
const NotImplementedCode = "NotImplemented"

// NotImplemented is the uniform answer of an operation that ecache does not implement yet.
func NotImplemented(operation string) *awsquery.Error {
	return &awsquery.Error{Code: NotImplementedCode, Status: http.StatusNotImplemented, Sender: false,
		Message: "ecache does not implement " + operation + " yet; see docs/COVERAGE.md."}
}
