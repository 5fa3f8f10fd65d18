// Package sigv4 verifies AWS Signature Version 4 on incoming HTTP requests. Imported by internal/server only.
//
// Both forms of SigV4 authentication are supported:
//
//   - header-signed requests, carrying
//     "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
//     together with an X-Amz-Date (or Date) header;
//   - presigned requests, carrying X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
//     X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature in the URL query.
//
// The canonical request is rebuilt exactly as the AWS SDKs build it for
// services other than Amazon S3, and the signature is recomputed with the
// secret returned by Verifier.Lookup. Failures are reported as *Error values
// whose Code, Status and Message mirror what AWS returns.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the payload hash placeholder used when the body is not
// covered by the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// DefaultMaxSkew is the clock skew tolerated when Verifier.MaxSkew is zero.
const DefaultMaxSkew = 15 * time.Minute

// MaxPresignExpires is the largest X-Amz-Expires value accepted (one week).
const MaxPresignExpires = 604800

// Error codes returned by Verify.
const (
	CodeMissingAuthenticationToken        = "MissingAuthenticationToken"
	CodeIncompleteSignature               = "IncompleteSignature"
	CodeInvalidClientTokenID              = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeRequestExpired                    = "RequestExpired"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
)

const (
	msgMissingToken      = "Request is missing Authentication Token"
	msgInvalidToken      = "The security token included in the request is invalid."
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgRequestExpired    = "Request has expired."
)

// Names of the SigV4 headers and query parameters.
const (
	headerAuthorization = "Authorization"
	headerAmzDate       = "X-Amz-Date"
	headerDate          = "Date"
	headerContentSHA256 = "X-Amz-Content-Sha256"

	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
)

// Verifier checks SigV4 signatures for one service.
type Verifier struct {
	// Service is the signing name expected in the credential scope, e.g. "elasticache".
	Service string
	// Lookup returns the secret access key for an access key id.
	Lookup func(accessKeyID string) (secret string, ok bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the tolerated clock skew; 0 means 15 minutes.
	MaxSkew time.Duration
	// Region reports whether a credential scope may name region; nil accepts any non-empty one.
	Region func(region string) bool
}

// Result describes a request whose signature was verified.
type Result struct {
	AccessKeyID string
	// Region is the region named in the credential scope.
	Region string
	// Service is the service named in the credential scope.
	Service string
	// SignedAt is the signing time (X-Amz-Date, or the Date header).
	SignedAt time.Time
	// Presigned is true when the signature came from the URL query.
	Presigned bool
	// UnsignedPayload is true when the signature was computed with the
	// UNSIGNED-PAYLOAD placeholder, i.e. the body is not covered by it.
	UnsignedPayload bool
}

// Error is what Verify returns; Code/Status/Message are written to the client
// as an AWS ErrorResponse.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	return e.Code + ": " + e.Message
}

func newError(code string, status int, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg}
}

func errIncomplete(format string, args ...any) *Error {
	return newError(CodeIncompleteSignature, http.StatusBadRequest, format, args...)
}

func errMismatch(format string, args ...any) *Error {
	return newError(CodeSignatureDoesNotMatch, http.StatusForbidden, format, args...)
}

// signingInput gathers everything parsed from the request that the signature
// depends on.
type signingInput struct {
	cred          credential
	signedHeaders string   // verbatim SignedHeaders value
	headerNames   []string // SignedHeaders split on ';'
	signature     string
	amzDate       string // timestamp used in the string to sign
	signedAt      time.Time
	presigned     bool
	expires       int64 // seconds; 0 when X-Amz-Expires is absent
}

// Verify checks the signature of r, whose full body has already been read into body
// (r.Body must not be read by Verify). Works for header-signed requests
// (Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...)
// and presigned query requests (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Signature in the URL query).
//
// The returned error, when not nil, is always an *Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (Result, error) {
	res, err := v.verify(r, body)
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

func (v *Verifier) verify(r *http.Request, body []byte) (Result, *Error) {
	if v == nil || r == nil {
		return Result{}, newError(CodeMissingAuthenticationToken, http.StatusForbidden, msgMissingToken)
	}
	rawQuery := ""
	if r.URL != nil {
		rawQuery = r.URL.RawQuery
	}
	query := parseQuery(rawQuery)

	var (
		in   signingInput
		perr *Error
	)
	auth := strings.TrimSpace(r.Header.Get(headerAuthorization))
	switch {
	case auth != "":
		in, perr = parseHeaderAuth(auth, r.Header)
	case query.has(querySignature) || query.has(queryCredential):
		in, perr = parseQueryAuth(query)
	default:
		return Result{}, newError(CodeMissingAuthenticationToken, http.StatusForbidden, msgMissingToken)
	}
	if perr != nil {
		return Result{}, perr
	}

	if perr := v.checkScope(in); perr != nil {
		return Result{}, perr
	}

	secret, ok := v.lookup(in.cred.accessKeyID)
	if !ok {
		return Result{}, newError(CodeInvalidClientTokenID, http.StatusForbidden, msgInvalidToken)
	}

	if perr := v.checkTime(in); perr != nil {
		return Result{}, perr
	}

	key := signingKey(secret, in.cred.date, in.cred.region, in.cred.service)
	provided := []byte(in.signature)
	for _, payload := range payloadCandidates(r, body, in.presigned) {
		creq := canonicalRequest(r, query, in, payload, body)
		sig := signatureHex(key, in.amzDate, in.cred.scope(), creq)
		if hmac.Equal([]byte(sig), provided) {
			return Result{
				AccessKeyID:     in.cred.accessKeyID,
				Region:          in.cred.region,
				Service:         in.cred.service,
				SignedAt:        in.signedAt,
				Presigned:       in.presigned,
				UnsignedPayload: payload == UnsignedPayload,
			}, nil
		}
	}
	return Result{}, errMismatch(msgSignatureMismatch)
}

func (v *Verifier) lookup(accessKeyID string) (string, bool) {
	if accessKeyID == "" || v.Lookup == nil {
		return "", false
	}
	return v.Lookup(accessKeyID)
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now().UTC()
	}
	return time.Now().UTC()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

// checkScope validates the credential scope against the service and the
// request date.
func (v *Verifier) checkScope(in signingInput) *Error {
	c := in.cred
	if c.terminator != "aws4_request" {
		return errIncomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", c.terminator)
	}
	if c.service != v.Service {
		return errIncomplete("Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if c.region == "" || (v.Region != nil && !v.Region(c.region)) {
		return errMismatch("Credential should be scoped to a valid region, not '%s'.", c.region)
	}
	day := in.amzDate
	if len(day) >= 8 {
		day = day[:8]
	}
	if c.date != day {
		return errMismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			c.date, day, in.amzDate)
	}
	return nil
}

// checkTime rejects requests signed too long ago or too far in the future.
func (v *Verifier) checkTime(in signingInput) *Error {
	now := v.now()
	skew := v.maxSkew()
	if latest := now.Add(skew); in.signedAt.After(latest) {
		return errMismatch("Signature not yet current: %s is still later than %s (%s + %s)",
			formatAmzDate(in.signedAt), formatAmzDate(latest), formatAmzDate(now), formatSkew(skew))
	}
	if in.presigned && in.expires > 0 {
		if now.After(in.signedAt.Add(time.Duration(in.expires) * time.Second)) {
			return newError(CodeRequestExpired, http.StatusBadRequest, msgRequestExpired)
		}
		return nil
	}
	if in.signedAt.Before(now.Add(-skew)) {
		return newError(CodeRequestExpired, http.StatusBadRequest, msgRequestExpired)
	}
	return nil
}

// payloadCandidates returns the payload hashes the signer may have used.
// An explicit X-Amz-Content-Sha256: UNSIGNED-PAYLOAD header selects the
// placeholder; presigned requests are signed with the placeholder by most
// SDKs, but some sign the hash of the (usually empty) body instead, so both
// are tried for them.
func payloadCandidates(r *http.Request, body []byte, presigned bool) []string {
	if strings.TrimSpace(r.Header.Get(headerContentSHA256)) == UnsignedPayload {
		return []string{UnsignedPayload}
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	if presigned {
		return []string{UnsignedPayload, bodyHash}
	}
	return []string{bodyHash}
}

const amzDateLayout = "20060102T150405Z"

func formatAmzDate(t time.Time) string { return t.UTC().Format(amzDateLayout) }

func formatSkew(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min."
	}
	return d.String() + "."
}

// parseAmzDate parses an ISO-8601 basic format timestamp (YYYYMMDD'T'HHMMSS'Z').
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateLayout) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	for i := 0; i < 15; i++ {
		if i != 8 && (s[i] < '0' || s[i] > '9') {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(amzDateLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func errBadDate(s string) *Error {
	return errIncomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", s)
}
