package iamauth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ecache/ecache/internal/sigv4"
)

// token presigns a connect request as the AWS SDKs' IAM examples do.
func token(t *testing.T, cache, user, region, expires string, at time.Time, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+cache+"/?Action=connect&User="+user+"&X-Amz-Expires="+expires, nil)
	if err != nil {
		t.Fatal(err)
	}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIATEST", SecretAccessKey: secret},
		req, emptySHA256, "elasticache", region, at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(signed, "http://")
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	v := &sigv4.Verifier{Service: "elasticache", Lookup: func(id string) (string, bool) { return "secret", id == "AKIATEST" },
		Now: func() time.Time { return now }}
	good := token(t, "ledger", "iam-user", "us-east-1", "900", now.Add(-time.Minute), "secret")
	if err := Check(v, good, "iam-user", "ledger", "us-east-1"); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	for _, tc := range []struct {
		name, token, user, cache, region, want string
	}{
		{"another user", good, "other", "ledger", "us-east-1", "not \"other\""},
		{"another cache", good, "iam-user", "shop", "us-east-1", "not \"shop\""},
		{"another region", good, "iam-user", "ledger", "eu-west-1", "region"},
		{"expired", token(t, "ledger", "iam-user", "us-east-1", "900", now.Add(-16*time.Minute), "secret"), "iam-user", "ledger", "us-east-1", "expired"},
		{"longer than 15 minutes", token(t, "ledger", "iam-user", "us-east-1", "3600", now, "secret"), "iam-user", "ledger", "us-east-1", "at most 900"},
		{"another key", token(t, "ledger", "iam-user", "us-east-1", "900", now, "not-the-secret"), "iam-user", "ledger", "us-east-1", "signature"},
		{"a password", "just-a-password-0123", "iam-user", "ledger", "us-east-1", "not an IAM"},
	} {
		err := Check(v, tc.token, tc.user, tc.cache, tc.region)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}
