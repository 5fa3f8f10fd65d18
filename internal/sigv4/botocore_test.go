package sigv4

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// botocoreSign signs a request with botocore's SigV4Auth (header) or
// SigV4QueryAuth (presigned URL) and prints it as JSON.
const botocoreSign = `
import json, sys
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

a = json.loads(sys.argv[1])
creds = Credentials(a["key"], a["secret"])
if a["presign"]:
    req = AWSRequest(method="GET", url=a["url"], params=a["params"])
    SigV4QueryAuth(creds, a["service"], a["region"], expires=a["expires"]).add_auth(req)
else:
    req = AWSRequest(method="POST", url=a["url"], data=a["body"].encode(),
                     headers={"Content-Type": a["contentType"]})
    SigV4Auth(creds, a["service"], a["region"]).add_auth(req)
p = req.prepare()
body = p.body or b""
if isinstance(body, bytes):
    body = body.decode()
print(json.dumps({"method": p.method, "url": p.url,
                  "headers": dict(p.headers.items()), "body": body}))
`

type botocoreRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func requireBotocore(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	if out, err := exec.Command(py, "-c", "import botocore.auth").CombinedOutput(); err != nil {
		t.Skipf("botocore not available: %v: %s", err, out)
	}
	return py
}

func signWithBotocore(t *testing.T, py string, args map[string]any) *http.Request {
	t.Helper()
	in, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", botocoreSign, string(in)).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("botocore signing failed: %v: %s", err, msg)
	}
	var br botocoreRequest
	if err := json.Unmarshal(out, &br); err != nil {
		t.Fatalf("decoding botocore output %q: %v", out, err)
	}
	req, err := http.NewRequest(br.Method, br.URL, strings.NewReader(br.Body))
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", br.URL, err)
	}
	for k, v := range br.Headers {
		req.Header.Set(k, v)
	}
	return req
}

func TestVerifyBotocore(t *testing.T) {
	py := requireBotocore(t)
	tests := []struct {
		name     string
		region   string
		url      string
		presign  bool
		wantCode string
		secret   string
	}{
		{name: "SigV4Auth POST us-east-1", region: "us-east-1", url: "https://elasticache.us-east-1.amazonaws.com/"},
		{name: "SigV4Auth POST eu-west-3", region: "eu-west-3", url: "https://elasticache.eu-west-3.amazonaws.com/"},
		{name: "SigV4Auth POST to local endpoint", region: "eu-west-3", url: "http://127.0.0.1:8080/"},
		{name: "SigV4QueryAuth GET us-east-1", region: "us-east-1", url: "https://elasticache.us-east-1.amazonaws.com/", presign: true},
		{name: "SigV4QueryAuth GET eu-west-3", region: "eu-west-3", url: "http://localhost:8080/", presign: true},
		{name: "SigV4Auth POST wrong secret", region: "us-east-1", url: "https://elasticache.us-east-1.amazonaws.com/",
			secret: "wrong", wantCode: CodeSignatureDoesNotMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := testSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			req := signWithBotocore(t, py, map[string]any{
				"key":         testAccessKeyID,
				"secret":      secret,
				"service":     testService,
				"region":      tt.region,
				"url":         tt.url,
				"presign":     tt.presign,
				"expires":     300,
				"params":      map[string]string{"Action": "DescribeCacheClusters", "Version": "2015-02-02"},
				"body":        formBody,
				"contentType": formContentType,
			})
			body := []byte(formBody)
			if tt.presign {
				body = nil
			}
			v := &Verifier{Service: testService, Lookup: testLookup}
			res, err := v.Verify(req, body)
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("Verify: got %+v, want %s", res, tt.wantCode)
				}
				if got := asError(t, err).Code; got != tt.wantCode {
					t.Fatalf("Verify: got %s (%v), want %s", got, err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil (request %s %s %v)", err, req.Method, req.URL, req.Header)
			}
			if res.AccessKeyID != testAccessKeyID || res.Region != tt.region || res.Service != testService || res.Presigned != tt.presign {
				t.Errorf("Verify: got %+v, want key %s, region %s, service %s, presigned %v",
					res, testAccessKeyID, tt.region, testService, tt.presign)
			}
		})
	}
}
