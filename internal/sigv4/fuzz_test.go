package sigv4

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// panicBody fails the test if Verify reads the request body.
type panicBody struct{ t *testing.T }

func (b panicBody) Read([]byte) (int, error) {
	b.t.Error("Verify read r.Body")
	return 0, errors.New("body must not be read")
}

func (panicBody) Close() error { return nil }

// FuzzVerify feeds random Authorization headers, query strings, dates and
// bodies to Verify. It must never panic, must always return an *Error with a
// known code and status, and must never accept the request: the secret is
// drawn at random when the target starts, so no input can carry a valid
// signature. The seeds are well-formed requests signed with another secret,
// so that mutations reach the signature comparison.
func FuzzVerify(f *testing.F) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		f.Fatal(err)
	}
	secret := hex.EncodeToString(buf)

	req, body := signedPost(f, signOpts{})
	f.Add(req.Header.Get("Authorization"), "", req.Header.Get("X-Amz-Date"), body)
	req, body = signedPost(f, signOpts{region: "eu-west-3", rawURL: "https://elasticache.us-east-1.amazonaws.com/?a=1&b=%2F"})
	f.Add(req.Header.Get("Authorization"), req.URL.RawQuery, req.Header.Get("X-Amz-Date"), body)
	p := presignedGet(f, signOpts{}, "300", UnsignedPayload)
	f.Add("", p.URL.RawQuery, "", []byte(nil))
	f.Add("", "X-Amz-Credential=x&X-Amz-Expires=99999999999999999999", "", []byte(nil))
	f.Add("Bearer abc", "", "", []byte(formBody))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/elasticache/aws4_request, SignedHeaders=host, Signature=",
		"", "20240501T120000Z", []byte{})
	f.Add("AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature=,,,", "%zz=%&&=", "99999999T999999Z", []byte{0xff})

	known := map[string]bool{
		CodeIncompleteSignature:               true,
		CodeInvalidClientTokenID:              true,
		CodeSignatureDoesNotMatch:             true,
		CodeRequestExpired:                    true,
		CodeAuthorizationQueryParametersError: true,
		CodeMissingAuthenticationToken:        true,
	}
	v := &Verifier{
		Service: testService,
		Lookup: func(id string) (string, bool) {
			if id == testAccessKeyID {
				return secret, true
			}
			return "", false
		},
		Now: func() time.Time { return signTime.Add(time.Minute) },
	}

	f.Fuzz(func(t *testing.T, auth, rawQuery, amzDate string, body []byte) {
		r := &http.Request{
			Method:        http.MethodPost,
			URL:           &url.URL{Path: "/", RawQuery: rawQuery},
			Host:          "elasticache.us-east-1.amazonaws.com",
			Header:        http.Header{"Content-Type": {formContentType}},
			ContentLength: int64(len(body)),
			Body:          panicBody{t},
		}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if amzDate != "" {
			r.Header["X-Amz-Date"] = []string{amzDate}
		}
		res, err := v.Verify(r, body)
		if err == nil {
			t.Fatalf("Verify accepted random input: %+v", res)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Verify: got %T %v, want *Error", err, err)
		}
		if !known[e.Code] || (e.Status != http.StatusBadRequest && e.Status != http.StatusForbidden) || e.Message == "" {
			t.Fatalf("Verify: got unexpected error %q %d %q", e.Code, e.Status, e.Message)
		}
	})
}

// FuzzParseAuthorization checks that the Authorization header parser never
// panics, reports syntax errors as IncompleteSignature 400, and that what it
// parses survives being formatted and parsed again.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/us-east-1/elasticache/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123abcd")
	f.Add("AWS4-HMAC-SHA256 Credential=a,SignedHeaders=b,Signature=c")
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")
	f.Add("Basic dXNlcjpwYXNz==")
	f.Add("")
	f.Add("  \t ,,, = , ")

	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseAuthorization(s)
		if err != nil {
			if err.Code != CodeIncompleteSignature || err.Status != http.StatusBadRequest {
				t.Fatalf("parseAuthorization(%q): got error %s %d, want %s 400", s, err.Code, err.Status, CodeIncompleteSignature)
			}
			return
		}
		var parts []string
		if h.hasCredential {
			parts = append(parts, "Credential="+h.credential)
		}
		if h.hasSignedHeaders {
			parts = append(parts, "SignedHeaders="+h.signedHeaders)
		}
		if h.hasSignature {
			parts = append(parts, "Signature="+h.signature)
		}
		again := h.algorithm
		if len(parts) > 0 {
			again += " " + strings.Join(parts, ", ")
		}
		h2, err := parseAuthorization(again)
		if err != nil {
			t.Fatalf("parseAuthorization(%q) (formatted from %q): %v", again, s, err)
		}
		if h2 != h {
			t.Fatalf("round trip of %q through %q: got %+v, want %+v", s, again, h2, h)
		}
		// The credential and signed-headers parsers must not panic either.
		if c, err := parseCredential(h.credential); err == nil && c.scope() == "" {
			t.Fatalf("parseCredential(%q): empty scope", h.credential)
		}
		if names, err := parseSignedHeaders(h.signedHeaders); err == nil && len(names) == 0 {
			t.Fatalf("parseSignedHeaders(%q): no names", h.signedHeaders)
		}
	})
}
