// Package ecachetest starts an ecache server inside a Go test, as httptest.NewServer starts an HTTP
// server: the ElastiCache API on a free port, real engines (valkey-server, redis-server, memcached from
// PATH) on ports of their own, a temporary data dir, and everything stopped and removed when the test
// ends.
//
//	func TestCache(t *testing.T) {
//		srv := ecachetest.New(t)
//		ec := elasticache.NewFromConfig(srv.Config)
//		...
//	}
package ecachetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecache/ecache/internal/app"
	"github.com/ecache/ecache/internal/sdkhttp"
)

// Server is one ecache started by New.
type Server struct {
	// Endpoint is the API's URL, for a client's BaseEndpoint or the AWS CLI's --endpoint-url.
	Endpoint string
	// AccessKeyID and SecretAccessKey are what requests are signed with; AccountID is in every ARN.
	AccessKeyID, SecretAccessKey, AccountID string
	// Region is the region Config signs for (us-east-1); every ElastiCache region is served.
	Region string
	// CAFile is the CA certificate nodes with in-transit encryption present certificates of.
	CAFile string
	// DataDir is the server's data dir, removed when the test ends.
	DataDir string
	// Config is an aws.Config for this server: elasticache.NewFromConfig(srv.Config) is a client of it.
	Config aws.Config

	log  *lockedBuffer
	stop func()
}

// Option changes how New starts the server.
type Option func(*app.Config)

// WithWarmEngines keeps n idle engines of each kind started ahead of need (the server's default is 6;
// New's is 0, to keep tests light): new nodes are up in milliseconds.
func WithWarmEngines(n int) Option { return func(c *app.Config) { c.WarmEngines = n } }

// WithExecutable names the ecache binary that runs durability log replicas (`ecache txlog-replica`):
// groups with Durability sync or async need it, since the test binary is not ecache.
func WithExecutable(path string) Option { return func(c *app.Config) { c.Executable = path } }

// WithLogLevel sets the server's log level (warn by default); the log is printed when the test fails.
func WithLogLevel(level string) Option { return func(c *app.Config) { c.LogLevel = level } }

// portBlocks hands each server of this process a block of 100 node ports, below the kernel's ephemeral
// range and apart from other processes' blocks as far as their pids differ.
var portBlocks struct {
	sync.Mutex
	next int
}

func nodePorts() (lo, hi int) {
	portBlocks.Lock()
	defer portBlocks.Unlock()
	if portBlocks.next == 0 {
		portBlocks.next = 24000 + (os.Getpid()%60)*100
	}
	lo = portBlocks.next
	if portBlocks.next += 100; portBlocks.next >= 30000 {
		portBlocks.next = 24000
	}
	return lo, lo + 99
}

// New starts a server for t and stops it when t ends, after deleting every cluster, group, snapshot and
// engine it holds. It fails t when the server does not start within a minute.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.PortLow, cfg.PortHigh = nodePorts()
	cfg.NodePorts = fmt.Sprintf("%d-%d", cfg.PortLow, cfg.PortHigh)
	cfg.Listen, cfg.LogLevel, cfg.WarmEngines, cfg.AllowReset = "127.0.0.1:0", "warn", 0, true
	for _, o := range opts {
		o(&cfg)
	}
	ready := make(chan app.Info, 1)
	cfg.Ready = func(info app.Info) { ready <- info }
	s := &Server{Region: "us-east-1", log: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, &cfg, io.Discard, s.log) }()
	s.stop = func() {
		cancel()
		<-done
	}
	select {
	case info := <-ready:
		s.Endpoint, s.AccessKeyID, s.SecretAccessKey, s.AccountID = info.Endpoint, info.AccessKeyID, info.SecretAccessKey, info.AccountID
		s.CAFile, s.DataDir = info.CAFile, info.DataDir
	case err := <-done:
		cancel()
		t.Fatalf("ecachetest: the server did not start: %v\n%s", err, s.log.String())
	case <-time.After(time.Minute):
		s.stop()
		t.Fatalf("ecachetest: the server did not start within a minute\n%s", s.log.String())
	}
	s.Config = aws.Config{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), HTTPClient: sdkhttp.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")}
	t.Cleanup(func() {
		if err := s.Reset(); err != nil {
			t.Errorf("ecachetest: %v", err)
		}
		s.stop()
		if t.Failed() {
			t.Logf("ecache log:\n%s", s.log.String())
		}
	})
	return s
}

// Reset deletes everything the server holds, in every region, and returns once no engine is left: for a
// test that wants a clean server without starting another.
func (s *Server) Reset() error {
	resp, err := http.Post(s.Endpoint+"/_ecache/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// lockedBuffer is the server's log, written by its goroutines and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
