// Package server is ecache's HTTP front door: it authenticates Query API requests (SigV4), routes them
// through the generated dispatch table in internal/api to an api.Service, and writes XML responses and
// AWS ErrorResponse documents. Imported by cmd/ecache only.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/awsquery"
)

// MaxBodyBytes bounds a request body; a larger one is answered 413 RequestEntityTooLarge, without being read
// when its Content-Length says so.
const MaxBodyBytes = 4 << 20

// Timeouts bound what one connection may take: the headers of a request, the whole request (body
// included), the handling and the response, and the wait for the next request. A client that sends slowly
// is cut off, not waited for.
type Timeouts struct{ ReadHeader, Read, Write, Idle time.Duration }

// DefaultTimeouts are ecache's.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 2 * time.Minute, Idle: 30 * time.Second}

// NewHTTPServer is the http.Server that serves h within t.
func NewHTTPServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// errTooLarge is the answer to a body over MaxBodyBytes.
func errTooLarge() *awsquery.Error {
	return awsquery.NewError("RequestEntityTooLarge", http.StatusRequestEntityTooLarge,
		"The request body is larger than %d bytes, the most this endpoint accepts.", MaxBodyBytes)
}

// Authenticator verifies a request's signature; body is the full request body.
// Errors of type *awsquery.Error are written to the client as they are.
type Authenticator interface {
	Authenticate(r *http.Request, body []byte) (accessKeyID, region string, err error)
}

// Handler serves the ElastiCache Query API.
type Handler struct {
	Service api.Service
	Auth    Authenticator
	Logger  *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := awsquery.NewRequestID()
	w.Header().Set("x-amzn-RequestId", requestID)
	defer func() {
		if p := recover(); p != nil {
			h.Logger.Error("panic serving request", "request_id", requestID, "panic", p, "stack", string(debug.Stack()))
			writeError(w, awsquery.InternalFailure(), requestID)
		}
	}()
	action, doc, err := h.serve(r, requestID)
	if err != nil {
		var ae *awsquery.Error
		if !errors.As(err, &ae) {
			h.Logger.Error("request failed", "request_id", requestID, "action", action, "err", err)
			ae = awsquery.InternalFailure()
		} else if ae.Status >= 500 && ae.Code != api.NotImplementedCode {
			h.Logger.Error("request failed", "request_id", requestID, "action", action, "err", err)
		} else {
			h.Logger.Debug("request rejected", "request_id", requestID, "action", action, "code", ae.Code, "message", ae.Message)
		}
		writeError(w, ae, requestID)
		return
	}
	defer doc.Release()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc.Bytes())))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.Bytes())
}

func (h *Handler) serve(r *http.Request, requestID string) (action string, resp *awsquery.Document, err error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return "", nil, awsquery.NewError("InvalidAction", http.StatusBadRequest, "The HTTP method %s is not supported.", r.Method)
	}
	if r.ContentLength > MaxBodyBytes {
		return "", nil, errTooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if errors.As(err, new(*http.MaxBytesError)) {
		return "", nil, errTooLarge()
	} else if err != nil {
		return "", nil, awsquery.MalformedQueryString("The request body could not be read.")
	}
	accessKeyID, region, err := h.Auth.Authenticate(r, body)
	if err != nil {
		return "", nil, err
	}
	params, err := formParams(r, body)
	if err != nil {
		return "", nil, err
	}
	action = params.Get("Action")
	if action == "" {
		return "", nil, awsquery.MissingAction()
	}
	op, ok := api.Operations[action]
	if !ok {
		return action, nil, awsquery.InvalidAction(fmt.Sprintf("The action %s is not valid for this web service.", action))
	}
	if v := params.Get("Version"); v != api.APIVersion {
		if v == "" {
			return action, nil, awsquery.MissingParameter("Version")
		}
		return action, nil, awsquery.InvalidAction(fmt.Sprintf("Could not find operation %s for version %s.", action, v))
	}
	in, err := op.Decode(awsquery.NewDecoder(params))
	if err != nil {
		return action, nil, err
	}
	if v, ok := h.Service.(api.InputValidator); ok {
		if err := v.ValidateInput(in); err != nil {
			return action, nil, err
		}
	}
	ctx := api.WithCaller(r.Context(), api.Caller{AccessKeyID: accessKeyID, Region: region, RequestID: requestID})
	out, err := call(ctx, op, h.Service, in)
	if err != nil {
		return action, nil, err
	}
	return action, awsquery.ResponseDocument(api.XMLNamespace, action, op.ResultWrapper, out, requestID), nil
}

// call invokes op, turning an operation without output into a nil body.
func call(ctx context.Context, op *api.Operation, s api.Service, in any) (awsquery.Marshaler, error) {
	out, err := op.Call(ctx, s, in)
	if err != nil {
		return nil, err
	}
	if op.NewOutput == nil {
		return nil, nil
	}
	return out, nil
}

// formParams merges the URL query and, for form posts, the body.
func formParams(r *http.Request, body []byte) (url.Values, error) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, awsquery.MalformedQueryString("The query string is not a valid URL-encoded form.")
	}
	if r.Method != http.MethodPost || len(body) == 0 {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.EqualFold(mt, "application/x-www-form-urlencoded") {
			return nil, awsquery.MalformedQueryString("The request body must be application/x-www-form-urlencoded.")
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, awsquery.MalformedQueryString("The request body is not a valid URL-encoded form.")
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

func writeError(w http.ResponseWriter, e *awsquery.Error, requestID string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write(awsquery.ErrorDocument(api.XMLNamespace, e, requestID))
}
