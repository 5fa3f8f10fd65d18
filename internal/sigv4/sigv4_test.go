package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAccessKeyID = "AKIDEXAMPLE"
	testSecret      = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testService     = "elasticache"
	formContentType = "application/x-www-form-urlencoded; charset=utf-8"
	formBody        = "Action=DescribeCacheClusters&Version=2015-02-02"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// signTime is the signing time of the requests built by the helpers below.
var signTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func testLookup(id string) (string, bool) {
	if id == testAccessKeyID {
		return testSecret, true
	}
	return "", false
}

func newTestVerifier(now time.Time) *Verifier {
	return &Verifier{
		Service: testService,
		Lookup:  testLookup,
		Now:     func() time.Time { return now },
		Region:  func(r string) bool { return r != unservedRegion },
	}
}

// unservedRegion is the one region the test verifier does not serve.
const unservedRegion = "nowhere-1"

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type signOpts struct {
	accessKeyID string
	secret      string
	region      string
	service     string
	at          time.Time
	rawURL      string
	body        string
}

func (o signOpts) withDefaults() signOpts {
	if o.accessKeyID == "" {
		o.accessKeyID = testAccessKeyID
	}
	if o.secret == "" {
		o.secret = testSecret
	}
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.service == "" {
		o.service = testService
	}
	if o.at.IsZero() {
		o.at = signTime
	}
	if o.rawURL == "" {
		o.rawURL = "https://elasticache." + o.region + ".amazonaws.com/"
	}
	return o
}

// signedPost returns a form POST signed in the Authorization header by the
// aws-sdk-go-v2 signer, and its body.
func signedPost(t testing.TB, o signOpts) (*http.Request, []byte) {
	t.Helper()
	o = o.withDefaults()
	body := o.body
	if body == "" {
		body = formBody
	}
	req, err := http.NewRequest(http.MethodPost, o.rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", formContentType)
	creds := aws.Credentials{AccessKeyID: o.accessKeyID, SecretAccessKey: o.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex([]byte(body)), o.service, o.region, o.at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return req, []byte(body)
}

// presignedGet returns a GET carrying the action in its query, presigned by
// the aws-sdk-go-v2 signer with the given X-Amz-Expires and payload hash.
func presignedGet(t testing.TB, o signOpts, expires string, payloadHash string) *http.Request {
	t.Helper()
	o = o.withDefaults()
	u := o.rawURL + "?Action=DescribeCacheClusters&Version=2015-02-02"
	if expires != "" {
		u += "&X-Amz-Expires=" + expires
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	creds := aws.Credentials{AccessKeyID: o.accessKeyID, SecretAccessKey: o.secret}
	signed, headers, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, payloadHash, o.service, o.region, o.at)
	if err != nil {
		t.Fatalf("PresignHTTP: %v", err)
	}
	out, err := http.NewRequest(http.MethodGet, signed, nil)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", signed, err)
	}
	for k, vs := range headers {
		if strings.EqualFold(k, "Host") {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	return out
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *sigv4.Error", err, err)
	}
	return e
}

func TestVerifySDKSigned(t *testing.T) {
	tests := []struct {
		name      string
		region    string
		build     func(t *testing.T, region string) (*http.Request, []byte)
		presigned bool
		unsigned  bool
	}{
		{
			name:   "form POST us-east-1",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return signedPost(t, signOpts{region: region})
			},
		},
		{
			name:   "form POST eu-west-3",
			region: "eu-west-3",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return signedPost(t, signOpts{region: region})
			},
		},
		{
			name:   "form POST to a custom endpoint with port, path and query",
			region: "eu-west-3",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return signedPost(t, signOpts{region: region, rawURL: "http://localhost:8080/some%20dir/x~y?b=2&a=1&a=0&c=a%2Fb&c=a-b&sp=a+b"})
			},
		},
		{
			name:   "form POST with empty body",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				req, err := http.NewRequest(http.MethodPost, "https://elasticache.us-east-1.amazonaws.com/?Action=DescribeCacheClusters&Version=2015-02-02", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", formContentType)
				creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptySHA256, testService, region, signTime); err != nil {
					t.Fatal(err)
				}
				return req, nil
			},
		},
		{
			name:   "form POST with session token and multi-valued header",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				req, err := http.NewRequest(http.MethodPost, "https://elasticache.us-east-1.amazonaws.com/", strings.NewReader(formBody))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", formContentType)
				req.Header.Add("X-Custom", "  a   b  ")
				req.Header.Add("X-Custom", "c")
				creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret, SessionToken: "token/with+chars="}
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hashHex([]byte(formBody)), testService, region, signTime); err != nil {
					t.Fatal(err)
				}
				return req, []byte(formBody)
			},
		},
		{
			name:   "header-signed with UNSIGNED-PAYLOAD",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				req, err := http.NewRequest(http.MethodPost, "https://elasticache.us-east-1.amazonaws.com/", strings.NewReader(formBody))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", formContentType)
				req.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
				creds := aws.Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecret}
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, UnsignedPayload, testService, region, signTime); err != nil {
					t.Fatal(err)
				}
				return req, []byte(formBody)
			},
			unsigned: true,
		},
		{
			name:   "presigned GET us-east-1",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return presignedGet(t, signOpts{region: region}, "300", UnsignedPayload), nil
			},
			presigned: true,
			unsigned:  true,
		},
		{
			name:   "presigned GET eu-west-3",
			region: "eu-west-3",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return presignedGet(t, signOpts{region: region}, "300", UnsignedPayload), nil
			},
			presigned: true,
			unsigned:  true,
		},
		{
			name:   "presigned GET signed with empty payload hash",
			region: "eu-west-3",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return presignedGet(t, signOpts{region: region}, "604800", emptySHA256), nil
			},
			presigned: true,
		},
		{
			name:   "presigned GET without X-Amz-Expires",
			region: "us-east-1",
			build: func(t *testing.T, region string) (*http.Request, []byte) {
				return presignedGet(t, signOpts{region: region}, "", UnsignedPayload), nil
			},
			presigned: true,
			unsigned:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := tt.build(t, tt.region)
			v := newTestVerifier(signTime.Add(time.Minute))
			got, err := v.Verify(req, body)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			want := Result{
				AccessKeyID:     testAccessKeyID,
				Region:          tt.region,
				Service:         testService,
				SignedAt:        signTime,
				Presigned:       tt.presigned,
				UnsignedPayload: tt.unsigned,
			}
			if got != want {
				t.Errorf("Verify: got %+v, want %+v", got, want)
			}
		})
	}
}

// TestVerifyOverHTTP sends SDK-signed requests through a real HTTP server so
// that the request seen by Verify is the one Go's server builds (Host moved
// to r.Host, Content-Length header, escaped path).
func TestVerifyOverHTTP(t *testing.T) {
	v := &Verifier{Service: testService, Lookup: testLookup}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		res, verr := v.Verify(r, body)
		if verr != nil {
			e := verr.(*Error)
			http.Error(w, e.Code+": "+e.Message, e.Status)
			return
		}
		_, _ = io.WriteString(w, res.AccessKeyID+" "+res.Region+" "+res.Service)
	}))
	defer srv.Close()

	now := time.Now().UTC()
	tests := []struct {
		name       string
		build      func(t *testing.T) *http.Request
		wantStatus int
		wantBody   string
	}{
		{
			name: "header-signed POST",
			build: func(t *testing.T) *http.Request {
				req, _ := signedPost(t, signOpts{region: "eu-west-3", at: now, rawURL: srv.URL + "/"})
				return req
			},
			wantStatus: http.StatusOK,
			wantBody:   testAccessKeyID + " eu-west-3 " + testService,
		},
		{
			name: "header-signed POST to an escaped path",
			build: func(t *testing.T) *http.Request {
				req, _ := signedPost(t, signOpts{region: "us-east-1", at: now, rawURL: srv.URL + "/a%20b/c%2Fd?x=1+2"})
				return req
			},
			wantStatus: http.StatusOK,
			wantBody:   testAccessKeyID + " us-east-1 " + testService,
		},
		{
			name: "presigned GET",
			build: func(t *testing.T) *http.Request {
				return presignedGet(t, signOpts{region: "us-east-1", at: now, rawURL: srv.URL + "/"}, "60", UnsignedPayload)
			},
			wantStatus: http.StatusOK,
			wantBody:   testAccessKeyID + " us-east-1 " + testService,
		},
		{
			name: "header-signed POST with wrong secret",
			build: func(t *testing.T) *http.Request {
				req, _ := signedPost(t, signOpts{secret: "wrong", at: now, rawURL: srv.URL + "/"})
				return req
			},
			wantStatus: http.StatusForbidden,
			wantBody:   CodeSignatureDoesNotMatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tt.build(t))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, b, tt.wantStatus)
			}
			if !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("body: got %q, want it to contain %q", b, tt.wantBody)
			}
		})
	}
}

func TestVerifyFailures(t *testing.T) {
	type built struct {
		req  *http.Request
		body []byte
	}
	post := func(t *testing.T, o signOpts) built {
		req, body := signedPost(t, o)
		return built{req, body}
	}
	// withAuth returns a signed POST whose Authorization header is replaced.
	withAuth := func(auth string) func(t *testing.T) built {
		return func(t *testing.T) built {
			b := post(t, signOpts{})
			b.req.Header.Set("Authorization", auth)
			return b
		}
	}
	// presigned returns a presigned GET whose query is edited by edit.
	presigned := func(expires string, edit func(q url.Values)) func(t *testing.T) built {
		return func(t *testing.T) built {
			req := presignedGet(t, signOpts{}, expires, UnsignedPayload)
			if edit != nil {
				q := req.URL.Query()
				edit(q)
				req.URL.RawQuery = q.Encode()
			}
			return built{req: req}
		}
	}
	validSig := func(t *testing.T) string {
		b := post(t, signOpts{})
		auth := b.req.Header.Get("Authorization")
		_, sig, _ := strings.Cut(auth, "Signature=")
		return sig
	}
	cred := "Credential=" + testAccessKeyID + "/20240501/us-east-1/" + testService + "/aws4_request"

	tests := []struct {
		name       string
		build      func(t *testing.T) built
		now        time.Time // zero means one minute after signTime
		wantCode   string
		wantStatus int
		wantMsg    string // substring of the message; empty means not checked
	}{
		{
			name:       "wrong secret",
			build:      func(t *testing.T) built { return post(t, signOpts{secret: "not-the-secret"}) },
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    msgSignatureMismatch,
		},
		{
			name:       "unknown access key",
			build:      func(t *testing.T) built { return post(t, signOpts{accessKeyID: "AKIDUNKNOWN"}) },
			wantCode:   CodeInvalidClientTokenID,
			wantStatus: http.StatusForbidden,
			wantMsg:    msgInvalidToken,
		},
		{
			name: "unsigned",
			build: func(t *testing.T) built {
				req, err := http.NewRequest(http.MethodPost, "https://elasticache.us-east-1.amazonaws.com/", strings.NewReader(formBody))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", formContentType)
				return built{req, []byte(formBody)}
			},
			wantCode:   CodeMissingAuthenticationToken,
			wantStatus: http.StatusForbidden,
			wantMsg:    msgMissingToken,
		},
		{
			name: "unsigned with only other X-Amz query parameters",
			build: func(t *testing.T) built {
				req, err := http.NewRequest(http.MethodGet, "https://elasticache.us-east-1.amazonaws.com/?Action=DescribeCacheClusters&X-Amz-Date=20240501T120000Z", nil)
				if err != nil {
					t.Fatal(err)
				}
				return built{req: req}
			},
			wantCode:   CodeMissingAuthenticationToken,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "tampered body",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				b.body = []byte("Action=DeleteCacheCluster&Version=2015-02-02")
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "tampered header",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				b.req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "tampered host",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				b.req.Host = "elasticache.eu-west-3.amazonaws.com"
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "tampered query",
			build: func(t *testing.T) built {
				b := post(t, signOpts{rawURL: "https://elasticache.us-east-1.amazonaws.com/?a=1"})
				b.req.URL.RawQuery = "a=2"
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "tampered signature",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				auth := b.req.Header.Get("Authorization")
				b.req.Header.Set("Authorization", auth[:len(auth)-1]+"0")
				if auth == b.req.Header.Get("Authorization") {
					b.req.Header.Set("Authorization", auth[:len(auth)-1]+"1")
				}
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name: "upper-case signature",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				auth := b.req.Header.Get("Authorization")
				i := strings.Index(auth, "Signature=") + len("Signature=")
				b.req.Header.Set("Authorization", auth[:i]+strings.ToUpper(auth[i:]))
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "expired",
			build:      func(t *testing.T) built { return post(t, signOpts{}) },
			now:        signTime.Add(16 * time.Minute),
			wantCode:   CodeRequestExpired,
			wantStatus: http.StatusBadRequest,
			wantMsg:    msgRequestExpired,
		},
		{
			name:       "future-dated",
			build:      func(t *testing.T) built { return post(t, signOpts{}) },
			now:        signTime.Add(-16 * time.Minute),
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z (20240501T114400Z + 15 min.)",
		},
		{
			name:       "presigned expired",
			build:      presigned("300", nil),
			now:        signTime.Add(301 * time.Second),
			wantCode:   CodeRequestExpired,
			wantStatus: http.StatusBadRequest,
			wantMsg:    msgRequestExpired,
		},
		{
			name:       "presigned without X-Amz-Expires past the skew window",
			build:      presigned("", nil),
			now:        signTime.Add(16 * time.Minute),
			wantCode:   CodeRequestExpired,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned future-dated",
			build:      presigned("300", nil),
			now:        signTime.Add(-16 * time.Minute),
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    "Signature not yet current",
		},
		{
			name:       "presigned X-Amz-Expires above a week",
			build:      presigned("604801", nil),
			wantCode:   CodeAuthorizationQueryParametersError,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "604800",
		},
		{
			name:       "presigned X-Amz-Expires zero",
			build:      presigned("0", nil),
			wantCode:   CodeAuthorizationQueryParametersError,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned X-Amz-Expires negative",
			build:      presigned("-5", nil),
			wantCode:   CodeAuthorizationQueryParametersError,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned X-Amz-Expires not a number",
			build:      presigned("soon", nil),
			wantCode:   CodeAuthorizationQueryParametersError,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned tampered action",
			build:      presigned("300", func(q url.Values) { q.Set("Action", "DeleteCacheCluster") }),
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "presigned extra parameter",
			build:      presigned("300", func(q url.Values) { q.Add("CacheClusterId", "x") }),
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "presigned missing signature",
			build:      presigned("300", func(q url.Values) { q.Del("X-Amz-Signature") }),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "AWS query-string parameters must include 'X-Amz-Signature'.",
		},
		{
			name:       "presigned wrong algorithm",
			build:      presigned("300", func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA512") }),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned without host in signed headers",
			build:      presigned("300", func(q url.Values) { q.Set("X-Amz-SignedHeaders", "x-amz-date") }),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "presigned bad date",
			build:      presigned("300", func(q url.Values) { q.Set("X-Amz-Date", "2024-05-01T12:00:00Z") }),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'.",
		},
		{
			name:       "malformed: missing Signature",
			build:      withAuth("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date"),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 " + cred,
		},
		{
			name:       "malformed: bearer token",
			build:      withAuth("Bearer"),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer",
		},
		{
			name:       "malformed: missing equal sign",
			build:      withAuth("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders, Signature=abc"),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header",
		},
		{
			name: "malformed: wrong algorithm",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				auth := b.req.Header.Get("Authorization")
				b.req.Header.Set("Authorization", strings.Replace(auth, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1))
				return b
			},
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "AWS4-HMAC-SHA1",
		},
		{
			name:       "malformed: credential with four parts",
			build:      withAuth("AWS4-HMAC-SHA256 Credential=" + testAccessKeyID + "/20240501/us-east-1/" + testService + ", SignedHeaders=host;x-amz-date, Signature=abc"),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Credential must have exactly 5 slash-delimited elements",
		},
		{
			name:       "malformed: bad scope terminator",
			build:      withAuth("AWS4-HMAC-SHA256 Credential=" + testAccessKeyID + "/20240501/us-east-1/" + testService + "/aws5_request, SignedHeaders=host;x-amz-date, Signature=abc"),
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
		},
		{
			name: "malformed: wrong service in scope",
			build: func(t *testing.T) built {
				return post(t, signOpts{service: "rds"})
			},
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Credential should be scoped to correct service: 'elasticache'.",
		},
		{
			name:       "malformed: empty region in scope",
			build:      withAuth("AWS4-HMAC-SHA256 Credential=" + testAccessKeyID + "/20240501//" + testService + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"),
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    "Credential should be scoped to a valid region, not ''.",
		},
		{
			name:       "a region not served, correctly signed",
			build:      func(t *testing.T) built { return post(t, signOpts{region: unservedRegion}) },
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    "Credential should be scoped to a valid region, not 'nowhere-1'.",
		},
		{
			name: "scope date differs from X-Amz-Date",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				auth := b.req.Header.Get("Authorization")
				b.req.Header.Set("Authorization", strings.Replace(auth, "/20240501/", "/20240430/", 1))
				return b
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
			wantMsg:    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240430' != '20240501', from '20240501T120000Z'.",
		},
		{
			name: "malformed: bad X-Amz-Date",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				b.req.Header.Set("X-Amz-Date", "20240501T1200Z")
				return b
			},
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Date must be in ISO-8601 'basic format'. Got '20240501T1200Z'.",
		},
		{
			name: "malformed: no date header",
			build: func(t *testing.T) built {
				b := post(t, signOpts{})
				b.req.Header.Del("X-Amz-Date")
				return b
			},
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
		},
		{
			name: "malformed: host not signed",
			build: func(t *testing.T) built {
				return withAuth("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=content-type;x-amz-date, Signature=" + validSig(t))(t)
			},
			wantCode:   CodeIncompleteSignature,
			wantStatus: http.StatusBadRequest,
			wantMsg:    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
		},
		{
			name: "signed headers list changed",
			build: func(t *testing.T) built {
				return withAuth("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date, Signature=" + validSig(t))(t)
			},
			wantCode:   CodeSignatureDoesNotMatch,
			wantStatus: http.StatusForbidden,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.build(t)
			now := tt.now
			if now.IsZero() {
				now = signTime.Add(time.Minute)
			}
			res, err := newTestVerifier(now).Verify(b.req, b.body)
			if err == nil {
				t.Fatalf("Verify: got %+v, nil error; want %s", res, tt.wantCode)
			}
			e := asError(t, err)
			if e.Code != tt.wantCode || e.Status != tt.wantStatus {
				t.Fatalf("Verify: got %s %d (%s), want %s %d", e.Code, e.Status, e.Message, tt.wantCode, tt.wantStatus)
			}
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", e.Message, tt.wantMsg)
			}
			if res != (Result{}) {
				t.Errorf("result: got %+v, want zero Result on error", res)
			}
		})
	}
}

// TestVerifyWithinSkew checks the edges of the accepted time window.
func TestVerifyWithinSkew(t *testing.T) {
	tests := []struct {
		name    string
		now     time.Time
		maxSkew time.Duration
		wantErr string
	}{
		{name: "exactly 15 minutes later", now: signTime.Add(15 * time.Minute)},
		{name: "exactly 15 minutes earlier", now: signTime.Add(-15 * time.Minute)},
		{name: "one second past the window", now: signTime.Add(15*time.Minute + time.Second), wantErr: CodeRequestExpired},
		{name: "custom skew accepts", now: signTime.Add(20 * time.Minute), maxSkew: 30 * time.Minute},
		{name: "custom skew rejects", now: signTime.Add(6 * time.Minute), maxSkew: 5 * time.Minute, wantErr: CodeRequestExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := signedPost(t, signOpts{})
			v := newTestVerifier(tt.now)
			v.MaxSkew = tt.maxSkew
			_, err := v.Verify(req, body)
			got := ""
			if err != nil {
				got = asError(t, err).Code
			}
			if got != tt.wantErr {
				t.Errorf("Verify: got error code %q (%v), want %q", got, err, tt.wantErr)
			}
		})
	}
}

// TestVerifyDateHeader checks requests dated by the Date header instead of
// X-Amz-Date; the string to sign then carries the ISO-8601 form of that date.
func TestVerifyDateHeader(t *testing.T) {
	build := func(dateHeader string, at time.Time) (*http.Request, []byte) {
		req, err := http.NewRequest(http.MethodPost, "https://elasticache.us-east-1.amazonaws.com/", bytes.NewReader([]byte(formBody)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", formContentType)
		req.Header.Set("Date", dateHeader)
		in := signingInput{
			cred:          credential{testAccessKeyID, at.Format("20060102"), "us-east-1", testService, "aws4_request"},
			signedHeaders: "content-type;date;host",
			headerNames:   []string{"content-type", "date", "host"},
			amzDate:       formatAmzDate(at),
		}
		creq := canonicalRequest(req, parseQuery(req.URL.RawQuery), in, hashHex([]byte(formBody)), []byte(formBody))
		key := signingKey(testSecret, in.cred.date, in.cred.region, in.cred.service)
		sig := signatureHex(key, in.amzDate, in.cred.scope(), creq)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAccessKeyID+"/"+in.cred.scope()+", SignedHeaders="+in.signedHeaders+", Signature="+sig)
		return req, []byte(formBody)
	}
	tests := []struct {
		name     string
		date     string
		wantCode string
	}{
		{name: "RFC 1123 date", date: signTime.Format(http.TimeFormat)},
		{name: "unparsable date", date: "yesterday", wantCode: CodeIncompleteSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := build(tt.date, signTime)
			res, err := newTestVerifier(signTime).Verify(req, body)
			got := ""
			if err != nil {
				got = asError(t, err).Code
			}
			if got != tt.wantCode {
				t.Fatalf("Verify: got code %q (%v), want %q", got, err, tt.wantCode)
			}
			if err == nil && !res.SignedAt.Equal(signTime) {
				t.Errorf("SignedAt: got %v, want %v", res.SignedAt, signTime)
			}
		})
	}
}

// TestVerifyDocumentedExamples checks signatures published in the AWS
// Signature Version 4 documentation and test suite (AKIDEXAMPLE credentials,
// 2015-08-30T12:36:00Z).
func TestVerifyDocumentedExamples(t *testing.T) {
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	tests := []struct {
		name    string
		service string
		method  string
		url     string
		header  map[string]string
		auth    string
	}{
		{
			name:    "get-vanilla",
			service: "service",
			method:  http.MethodGet,
			url:     "https://example.amazonaws.com/",
			header:  map[string]string{"X-Amz-Date": "20150830T123600Z"},
			auth:    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		},
		{
			name:    "get-vanilla-query-order-key-case",
			service: "service",
			method:  http.MethodGet,
			url:     "https://example.amazonaws.com/?Param2=value2&Param1=value1",
			header:  map[string]string{"X-Amz-Date": "20150830T123600Z"},
			auth:    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		},
		{
			name:    "IAM ListUsers",
			service: "iam",
			method:  http.MethodGet,
			url:     "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
			header: map[string]string{
				"X-Amz-Date":   "20150830T123600Z",
				"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
			},
			auth: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", tt.auth)
			v := &Verifier{Service: tt.service, Lookup: testLookup, Now: func() time.Time { return at }}
			res, err := v.Verify(req, nil)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if res.Region != "us-east-1" || res.Service != tt.service || !res.SignedAt.Equal(at) {
				t.Errorf("Verify: got %+v, want region us-east-1, service %s, time %v", res, tt.service, at)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeRequestExpired, Status: http.StatusBadRequest, Message: msgRequestExpired}
	if got, want := e.Error(), "RequestExpired: Request has expired."; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

func TestVerifyNilInputs(t *testing.T) {
	tests := []struct {
		name string
		v    *Verifier
		r    *http.Request
	}{
		{name: "nil request", v: newTestVerifier(signTime), r: nil},
		{name: "nil URL and header", v: newTestVerifier(signTime), r: &http.Request{Method: http.MethodPost}},
		{name: "nil lookup", v: &Verifier{Service: testService}, r: func() *http.Request { r, _ := signedPost(t, signOpts{}); return r }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.v.Verify(tt.r, nil); err == nil {
				t.Errorf("Verify: got nil error, want an error")
			}
		})
	}
}
