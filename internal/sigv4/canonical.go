package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// canonicalRequest builds the SigV4 canonical request:
//
//	Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
func canonicalRequest(r *http.Request, q queryParams, in signingInput, payloadHash string, body []byte) string {
	method := r.Method
	if method == "" {
		method = http.MethodGet // as net/http does for an empty method
	}
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(q, in.presigned))
	b.WriteByte('\n')
	for _, name := range in.headerNames {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name, body))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(in.signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// stringToSign builds the SigV4 string to sign.
func stringToSign(amzDate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// signingKey derives the SigV4 signing key for a date, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// signatureHex returns the hex-encoded signature of a canonical request.
func signatureHex(key []byte, amzDate, scope, canonicalRequest string) string {
	return hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate, scope, canonicalRequest)))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURI returns the canonical URI of r: the escaped path as sent on
// the wire, with "." and ".." segments and empty segments removed, then
// URI-encoded once more (every byte outside the unreserved set and '/' is
// percent-encoded), as the AWS SDKs do for services other than Amazon S3.
func canonicalURI(r *http.Request) string {
	path := ""
	if r.URL != nil {
		path = r.URL.EscapedPath()
	}
	return uriEncode(normalizePath(path), false)
}

// normalizePath removes dot segments (RFC 3986 section 5.2.4) and empty
// segments from a path, keeping its leading and trailing slash.
func normalizePath(path string) string {
	if path == "" {
		return "/"
	}
	var out []string
	for _, seg := range strings.Split(path, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	var b strings.Builder
	if path[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if path[len(path)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// canonicalQuery returns the canonical query string: every pair RFC 3986
// encoded, sorted by encoded name then encoded value, joined with '&'. For
// presigned requests the X-Amz-Signature parameter is left out.
func canonicalQuery(q queryParams, presigned bool) string {
	pairs := make([]queryPair, 0, len(q))
	for _, p := range q {
		if presigned && p.key == querySignature {
			continue
		}
		pairs = append(pairs, queryPair{key: uriEncode(p.key, true), value: uriEncode(p.value, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].key != pairs[j].key {
			return pairs[i].key < pairs[j].key
		}
		return pairs[i].value < pairs[j].value
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// canonicalHeaderValue returns the canonical value of the named header:
// every value trimmed with runs of spaces collapsed, joined with ','. Headers
// that Go's HTTP server moves out of r.Header are taken from the request
// fields that hold them (Host, Content-Length, Transfer-Encoding).
func canonicalHeaderValue(r *http.Request, name string, body []byte) string {
	values := headerValues(r.Header, name)
	if len(values) == 0 {
		switch strings.ToLower(name) {
		case "host":
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			values = []string{host}
		case "content-length":
			n := r.ContentLength
			if n <= 0 {
				n = int64(len(body))
			}
			values = []string{strconv.FormatInt(n, 10)}
		case "transfer-encoding":
			if len(r.TransferEncoding) > 0 {
				values = []string{strings.Join(r.TransferEncoding, ",")}
			}
		}
	}
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(trimAll(v))
	}
	return b.String()
}

// headerValues returns the values of a header, matching its name without
// regard to case even when the map key is not in canonical form.
func headerValues(h http.Header, name string) []string {
	if v := h.Values(name); len(v) > 0 {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v
		}
	}
	return nil
}

// trimAll trims leading and trailing white space and collapses every run of
// spaces into a single space.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// uriEncode percent-encodes every byte of s outside the RFC 3986 unreserved
// set (A-Z a-z 0-9 - _ . ~) with upper-case hex digits; '/' is kept as is
// unless encodeSlash is set.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
