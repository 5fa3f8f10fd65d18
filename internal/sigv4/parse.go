package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// authHeader is the parsed form of an Authorization header value.
type authHeader struct {
	algorithm     string
	credential    string
	signedHeaders string
	signature     string

	hasCredential    bool
	hasSignedHeaders bool
	hasSignature     bool
}

// parseAuthorization splits an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/elasticache/aws4_request, SignedHeaders=host;x-amz-date, Signature=...
//
// into its algorithm and parameters. Parameters may be separated by ',' with
// or without surrounding white space; unknown parameters are ignored and the
// first occurrence of a repeated parameter wins. Only the syntax is checked
// here: missing parameters are reported by the caller.
func parseAuthorization(auth string) (authHeader, *Error) {
	var h authHeader
	s := strings.TrimSpace(auth)
	alg, rest := s, ""
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		alg, rest = s[:i], s[i:]
	}
	h.algorithm = alg
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return authHeader{}, errIncomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, auth)
		}
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch k {
		case "Credential":
			if !h.hasCredential {
				h.credential, h.hasCredential = val, true
			}
		case "SignedHeaders":
			if !h.hasSignedHeaders {
				h.signedHeaders, h.hasSignedHeaders = val, true
			}
		case "Signature":
			if !h.hasSignature {
				h.signature, h.hasSignature = val, true
			}
		}
	}
	return h, nil
}

// parseHeaderAuth extracts the signing input of a header-signed request.
func parseHeaderAuth(auth string, header http.Header) (signingInput, *Error) {
	h, err := parseAuthorization(auth)
	if err != nil {
		return signingInput{}, err
	}
	amzDate := strings.TrimSpace(header.Get(headerAmzDate))
	httpDate := strings.TrimSpace(header.Get(headerDate))

	var missing []string
	if !h.hasCredential {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !h.hasSignature {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !h.hasSignedHeaders {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if amzDate == "" && httpDate == "" {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return signingInput{}, errIncomplete("%s Authorization=%s", strings.Join(missing, " "), auth)
	}
	if h.algorithm != Algorithm {
		return signingInput{}, errIncomplete("Unsupported AWS 'algorithm': '%s'. Authorization=%s", h.algorithm, auth)
	}

	in := signingInput{signature: h.signature, signedHeaders: h.signedHeaders}
	if in.cred, err = parseCredential(h.credential); err != nil {
		return signingInput{}, err
	}
	if in.headerNames, err = parseSignedHeaders(h.signedHeaders); err != nil {
		return signingInput{}, err
	}
	if amzDate != "" {
		t, ok := parseAmzDate(amzDate)
		if !ok {
			return signingInput{}, errBadDate(amzDate)
		}
		in.amzDate, in.signedAt = amzDate, t
	} else {
		t, perr := http.ParseTime(httpDate)
		if perr != nil || t.Year() < 0 || t.Year() > 9999 {
			return signingInput{}, errBadDate(httpDate)
		}
		in.signedAt = t.UTC()
		in.amzDate = formatAmzDate(in.signedAt)
	}
	return in, nil
}

// parseQueryAuth extracts the signing input of a presigned request.
func parseQueryAuth(q queryParams) (signingInput, *Error) {
	var missing []string
	for _, name := range []string{queryAlgorithm, queryCredential, querySignature, querySignedHeaders, queryDate} {
		if !q.has(name) {
			missing = append(missing, "AWS query-string parameters must include '"+name+"'.")
		}
	}
	if len(missing) > 0 {
		return signingInput{}, errIncomplete("%s Re-examine the query-string parameters.", strings.Join(missing, " "))
	}
	alg, _ := q.get(queryAlgorithm)
	if alg != Algorithm {
		return signingInput{}, errIncomplete("Unsupported AWS 'algorithm': '%s'.", alg)
	}

	in := signingInput{presigned: true}
	if raw, ok := q.get(queryExpires); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		switch {
		case err != nil:
			return signingInput{}, errQueryParams("X-Amz-Expires should be a number")
		case n < 0:
			return signingInput{}, errQueryParams("X-Amz-Expires must be non-negative")
		case n == 0:
			return signingInput{}, errQueryParams("X-Amz-Expires must be greater than 0")
		case n > MaxPresignExpires:
			return signingInput{}, errQueryParams("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		in.expires = n
	}

	credStr, _ := q.get(queryCredential)
	var err *Error
	if in.cred, err = parseCredential(credStr); err != nil {
		return signingInput{}, err
	}
	in.signedHeaders, _ = q.get(querySignedHeaders)
	if in.headerNames, err = parseSignedHeaders(in.signedHeaders); err != nil {
		return signingInput{}, err
	}
	in.signature, _ = q.get(querySignature)
	date, _ := q.get(queryDate)
	t, ok := parseAmzDate(date)
	if !ok {
		return signingInput{}, errBadDate(date)
	}
	in.amzDate, in.signedAt = date, t
	return in, nil
}

func errQueryParams(msg string) *Error {
	return &Error{Code: CodeAuthorizationQueryParametersError, Status: http.StatusBadRequest, Message: msg}
}

// credential is a parsed "AKID/YYYYMMDD/region/service/aws4_request" value.
type credential struct {
	accessKeyID string
	date        string
	region      string
	service     string
	terminator  string
}

// scope returns the credential scope used in the string to sign.
func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + c.terminator
}

func parseCredential(s string) (credential, *Error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 {
		return credential{}, errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", s)
	}
	return credential{
		accessKeyID: parts[0],
		date:        parts[1],
		region:      parts[2],
		service:     parts[3],
		terminator:  parts[4],
	}, nil
}

// parseSignedHeaders splits a SignedHeaders value and checks that the host
// header is among the signed headers.
func parseSignedHeaders(s string) ([]string, *Error) {
	names := strings.Split(s, ";")
	for _, n := range names {
		if strings.EqualFold(n, "host") {
			return names, nil
		}
	}
	return nil, errIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
}

// queryPair is one decoded name/value pair of a URL query.
type queryPair struct {
	key   string
	value string
}

type queryParams []queryPair

// parseQuery decodes a raw URL query into its pairs, keeping their order and
// repetitions. Unlike url.ParseQuery it never drops a pair: a component that
// is not validly percent-encoded is kept verbatim.
func parseQuery(raw string) queryParams {
	var q queryParams
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		q = append(q, queryPair{key: queryUnescape(k), value: queryUnescape(val)})
	}
	return q
}

func queryUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func (q queryParams) get(key string) (string, bool) {
	for _, p := range q {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

func (q queryParams) has(key string) bool {
	_, ok := q.get(key)
	return ok
}
