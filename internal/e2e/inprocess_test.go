package e2e

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/regions"
	"github.com/ecache/ecache/internal/sdkhttp"
	"github.com/ecache/ecache/internal/server"
	"github.com/ecache/ecache/internal/service"
	"github.com/ecache/ecache/internal/sigv4"
	"github.com/ecache/ecache/internal/store"
)

const (
	testKeyID  = "AKIAECACHETESTKEY001"
	testSecret = "ecache-test-secret-key-0000000000000000"
)

// testHost is a fixed engine host, so validation tests do not depend on what is installed.
func testHost() engine.Host {
	return engine.NewHost(
		engine.Binary{Engine: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"},
		engine.Binary{Engine: "valkey", Path: "/usr/bin/valkey-server", Version: "8.0.1"},
		engine.Binary{Engine: "memcached", Path: "/usr/bin/memcached", Version: "1.6.18"},
	)
}

// testRetryer retries what the SDK's standard retryer retries, without waiting (see the conformance test).
func testRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

// inProcess is the API over an in-memory store without a controller: requests are validated and
// recorded, no engine runs.
type inProcess struct {
	store    store.Store
	client   *elasticache.Client // signs for us-east-1
	endpoint string
}

// clientIn returns a client signing for region.
func (p *inProcess) clientIn(region string) *elasticache.Client {
	return elasticache.New(elasticache.Options{
		Region: region, BaseEndpoint: aws.String(p.endpoint), Retryer: testRetryer(), HTTPClient: sdkhttp.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
	})
}

func newInProcess(t *testing.T, quotas service.Quotas, portLow, portHigh int) *inProcess {
	t.Helper()
	st := store.NewMemory()
	// Failures the server logs (an InternalFailure, a recovered panic) appear in the test's output.
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	svc := service.New(st, testHost(), service.Config{AccountID: "123456789012", NodeHost: "127.0.0.1",
		PortLow: portLow, PortHigh: portHigh, Quotas: quotas}, time.Now, logger)
	verifier := &sigv4.Verifier{Service: "elasticache", Lookup: func(id string) (string, bool) { return testSecret, id == testKeyID },
		Region: regions.New().Has}
	srv := httptest.NewServer(&server.Handler{Service: svc, Auth: server.SigV4{Verifier: verifier}, Logger: logger})
	t.Cleanup(srv.Close)
	client := elasticache.New(elasticache.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: testRetryer(), HTTPClient: sdkhttp.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		// Send what the test says even when the SDK's own checks would refuse it.
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			_, _ = s.Initialize.Remove("OperationInputValidation")
			// An attempt that the SDK retries is otherwise invisible: note why it failed.
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("NoteFailedAttempts", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil {
					t.Logf("%s attempt failed: %v", middleware.GetOperationName(ctx), err)
				}
				return out, md, err
			}), "Retry", middleware.After)
		}},
	})
	return &inProcess{store: st, client: client, endpoint: srv.URL}
}

// testLogWriter writes what it is given to the test's log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// apiError unpacks an SDK error into code and HTTP status.
func apiError(t *testing.T, err error) (code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

// rule is one bad request of a rules table: call must fail with wantCode and HTTP wantStatus.
type rule struct {
	name       string
	call       func() error
	wantCode   string
	wantStatus int
}

// runRules sends every rule's request and checks the modelled error and that the store did not change.
func runRules(t *testing.T, st store.Store, rules []rule) {
	t.Helper()
	ctx := context.Background()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			before, _ := st.Revision(ctx)
			err := r.call()
			if err == nil {
				t.Fatalf("request succeeded, want %s", r.wantCode)
			}
			code, status := apiError(t, err)
			if code != r.wantCode || status != r.wantStatus {
				t.Errorf("got %s (HTTP %d), want %s (HTTP %d): %v", code, status, r.wantCode, r.wantStatus, err)
			}
			if after, _ := st.Revision(ctx); after != before {
				t.Errorf("store revision moved from %d to %d", before, after)
			}
		})
	}
}
