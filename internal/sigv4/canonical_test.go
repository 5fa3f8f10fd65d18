package sigv4

import (
	"net/http"
	"net/url"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "//", want: "/"},
		{in: "/a/b", want: "/a/b"},
		{in: "/a/b/", want: "/a/b/"},
		{in: "/a//b", want: "/a/b"},
		{in: "/a/./b", want: "/a/b"},
		{in: "/a/../b", want: "/b"},
		{in: "/../..", want: "/"},
		{in: "/a/b/..", want: "/a"},
		{in: "*", want: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := normalizePath(tt.in); got != tt.want {
				t.Errorf("normalizePath(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := []struct {
		rawURL string
		want   string
	}{
		{rawURL: "https://h/", want: "/"},
		{rawURL: "https://h", want: "/"},
		{rawURL: "https://h/a%20b/c", want: "/a%2520b/c"},
		{rawURL: "https://h/a%2Fb", want: "/a%252Fb"},
		{rawURL: "https://h/~user/x-y_z.1", want: "/~user/x-y_z.1"},
		{rawURL: "https://h/a/./b/../c/", want: "/a/c/"},
		{rawURL: "https://h/%C3%A9", want: "/%25C3%25A9"},
	}
	for _, tt := range tests {
		t.Run(tt.rawURL, func(t *testing.T) {
			u, err := url.Parse(tt.rawURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := canonicalURI(&http.Request{URL: u}); got != tt.want {
				t.Errorf("canonicalURI(%q): got %q, want %q", tt.rawURL, got, tt.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name      string
		raw       string
		presigned bool
		want      string
	}{
		{name: "empty", raw: "", want: ""},
		{name: "sorted by key", raw: "b=2&a=1", want: "a=1&b=2"},
		{name: "repeated key sorted by value", raw: "a=2&a=1&a=10", want: "a=1&a=10&a=2"},
		{name: "key without value", raw: "a&b=", want: "a=&b="},
		{name: "empty pairs skipped", raw: "&&a=1&", want: "a=1"},
		{name: "plus is a space", raw: "a=x+y", want: "a=x%20y"},
		{name: "reserved characters encoded", raw: "a=%2F%3D%26*", want: "a=%2F%3D%26%2A"},
		{name: "unreserved characters decoded", raw: "a=%7E%2D%5F%2E", want: "a=~-_."},
		{name: "sorted after encoding", raw: "c=a-b&c=a%2Fb", want: "c=a%2Fb&c=a-b"},
		{name: "invalid escape kept verbatim", raw: "a=%zz", want: "a=%25zz"},
		{name: "case-sensitive sort", raw: "b=1&B=2&a=3", want: "B=2&a=3&b=1"},
		{name: "signature kept for header auth", raw: "X-Amz-Signature=abc&a=1", want: "X-Amz-Signature=abc&a=1"},
		{name: "signature dropped for presigned", raw: "X-Amz-Signature=abc&a=1", presigned: true, want: "a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonicalQuery(parseQuery(tt.raw), tt.presigned); got != tt.want {
				t.Errorf("canonicalQuery(%q): got %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestCanonicalHeaderValue(t *testing.T) {
	tests := []struct {
		name string
		req  *http.Request
		body string
		hdr  string
		want string
	}{
		{
			name: "trimmed and spaces collapsed",
			req:  &http.Request{Header: http.Header{"X-A": {"  a   b  c "}}},
			hdr:  "x-a",
			want: "a b c",
		},
		{
			name: "multiple values joined",
			req:  &http.Request{Header: http.Header{"X-A": {"1", " 2 "}}},
			hdr:  "x-a",
			want: "1,2",
		},
		{
			name: "non-canonical map key",
			req:  &http.Request{Header: http.Header{"x_a": {"v"}}},
			hdr:  "x_a",
			want: "v",
		},
		{
			name: "host from r.Host",
			req:  &http.Request{Host: "example.com:8080", Header: http.Header{}},
			hdr:  "host",
			want: "example.com:8080",
		},
		{
			name: "host from URL when r.Host is empty",
			req:  &http.Request{URL: &url.URL{Host: "u.example.com"}, Header: http.Header{}},
			hdr:  "host",
			want: "u.example.com",
		},
		{
			name: "content-length from r.ContentLength",
			req:  &http.Request{ContentLength: 47, Header: http.Header{}},
			hdr:  "content-length",
			want: "47",
		},
		{
			name: "content-length from body",
			req:  &http.Request{ContentLength: -1, Header: http.Header{}},
			body: "abc",
			hdr:  "content-length",
			want: "3",
		},
		{
			name: "absent header is empty",
			req:  &http.Request{Header: http.Header{}},
			hdr:  "x-missing",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonicalHeaderValue(tt.req, tt.hdr, []byte(tt.body)); got != tt.want {
				t.Errorf("canonicalHeaderValue(%q): got %q, want %q", tt.hdr, got, tt.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	const cred = "AKID/20240501/us-east-1/elasticache/aws4_request"
	tests := []struct {
		name    string
		in      string
		want    authHeader
		wantErr bool
	}{
		{
			name: "SDK form",
			in:   "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=abcd",
			want: authHeader{algorithm: Algorithm, credential: cred, signedHeaders: "host;x-amz-date", signature: "abcd",
				hasCredential: true, hasSignedHeaders: true, hasSignature: true},
		},
		{
			name: "no spaces after commas",
			in:   "AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host,Signature=abcd",
			want: authHeader{algorithm: Algorithm, credential: cred, signedHeaders: "host", signature: "abcd",
				hasCredential: true, hasSignedHeaders: true, hasSignature: true},
		},
		{
			name: "first repeated parameter wins, unknown ignored",
			in:   "AWS4-HMAC-SHA256 Signature=1, Signature=2, Foo=bar",
			want: authHeader{algorithm: Algorithm, signature: "1", hasSignature: true},
		},
		{
			name: "algorithm only",
			in:   "Bearer",
			want: authHeader{algorithm: "Bearer"},
		},
		{
			name: "empty value",
			in:   "AWS4-HMAC-SHA256 Credential=",
			want: authHeader{algorithm: Algorithm, hasCredential: true},
		},
		{
			name:    "missing equal sign",
			in:      "Bearer abc.def",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthorization(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseAuthorization(%q): got error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if err.Code != CodeIncompleteSignature || err.Status != http.StatusBadRequest {
					t.Errorf("error: got %s %d, want %s 400", err.Code, err.Status, CodeIncompleteSignature)
				}
				return
			}
			if got != tt.want {
				t.Errorf("parseAuthorization(%q): got %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAmzDate(t *testing.T) {
	tests := []struct {
		in     string
		wantOK bool
	}{
		{in: "20240501T120000Z", wantOK: true},
		{in: "20240501T120000", wantOK: false},
		{in: "2024-05-01T12:00:00Z", wantOK: false},
		{in: "20241301T120000Z", wantOK: false},
		{in: "2024050+T120000Z", wantOK: false},
		{in: "", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if _, ok := parseAmzDate(tt.in); ok != tt.wantOK {
				t.Errorf("parseAmzDate(%q): got ok=%v, want %v", tt.in, ok, tt.wantOK)
			}
		})
	}
}
