// Package benchkit holds what the benchmark commands share: running the ecache binary on a scratch data
// dir, a signing client for it, a concurrent load loop and latency summaries.
package benchkit

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/ecache/ecache/internal/sdkhttp"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening waits until addr accepts connections.
func WaitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 50*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start listening", addr)
}

// Server is one `ecache serve` built from this checkout.
type Server struct {
	Cmd           *exec.Cmd
	Addr, Dir     string
	KeyID, Secret string
}

// Start builds cmd/ecache and serves it on a scratch data dir with engines on nodePorts ("LO-HI") and the
// extra serve flags args. ecache logs warnings and errors, or what ECACHE_BENCH_LOG_LEVEL says (e.g. info,
// to see how long each step took). ECACHE_BENCH_BIN names a binary to serve instead of building one: an
// older build, to compare two versions on the same machine.
func Start(nodePorts string, args ...string) (*Server, error) {
	logLevel := cmp.Or(os.Getenv("ECACHE_BENCH_LOG_LEVEL"), "warn")
	dir, err := os.MkdirTemp("", "ecache-bench")
	if err != nil {
		return nil, err
	}
	bin, err := Binary(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", FreePort()), Dir: dir}
	s.Cmd = exec.Command(bin, append([]string{"serve", "--listen", s.Addr, "--data-dir", filepath.Join(dir, "data"), "--node-ports", nodePorts, "--log-level", logLevel}, args...)...)
	s.Cmd.Stderr, _ = os.Create(filepath.Join(dir, "ecache.log"))
	stdout, _ := s.Cmd.StdoutPipe()
	if err := s.Cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (s.KeyID == "" || s.Secret == "") {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "AWS_ACCESS_KEY_ID="); ok {
			s.KeyID = v
		}
		if v, ok := strings.CutPrefix(line, "AWS_SECRET_ACCESS_KEY="); ok {
			s.Secret = v
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return s, WaitListening(s.Addr, 10*time.Second)
}

// Binary is the ecache executable to measure: ECACHE_BENCH_BIN, else cmd/ecache built into dir.
func Binary(dir string) (string, error) {
	if bin := os.Getenv("ECACHE_BENCH_BIN"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "ecache")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ecache/ecache/cmd/ecache").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	return bin, nil
}

// Client signs for us-east-1 with the server's credentials.
func (s *Server) Client() *elasticache.Client {
	return elasticache.New(elasticache.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.Addr),
		Credentials: credentials.NewStaticCredentialsProvider(s.KeyID, s.Secret, ""), HTTPClient: sdkhttp.Client()})
}

// Group describes the replication group id.
func Group(ctx context.Context, c *elasticache.Client, id string) (types.ReplicationGroup, error) {
	out, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		return types.ReplicationGroup{}, err
	}
	return out.ReplicationGroups[0], nil
}

// EnginePIDs maps node directory names to the pids of live engines.
func (s *Server) EnginePIDs() map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(s.Dir, "data", "nodes", "*", "node.json"))
	for _, f := range files {
		var rec struct {
			PID int `json:"pid"`
		}
		b, _ := os.ReadFile(f)
		if json.Unmarshal(b, &rec) == nil && rec.PID > 0 && syscall.Kill(rec.PID, 0) == nil {
			out[filepath.Base(filepath.Dir(f))] = rec.PID
		}
	}
	return out
}

// Stop ends ecache and every engine it started, printing what ecache logged (warnings and errors).
func (s *Server) Stop() {
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	_ = s.Cmd.Wait()
	if b, _ := os.ReadFile(filepath.Join(s.Dir, "ecache.log")); len(b) > 0 {
		fmt.Printf("ecache log:\n%s", b)
	}
	for _, pid := range s.EnginePIDs() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	out, _ := exec.Command("pgrep", "-f", s.Dir).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.RemoveAll(s.Dir)
}

// Load runs do n times over conc goroutines and returns the throughput, every latency and the first error.
func Load(n, conc int, do func() error) (float64, []time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for range next {
				t := time.Now()
				err := do()
				d := time.Since(t)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), lat, firstErr
}

// Percentile returns the p-th quantile (0..1) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// Summary renders min, median and max of ds.
func Summary(ds []time.Duration) string {
	slices.Sort(ds)
	r := 100 * time.Microsecond
	return fmt.Sprintf("min %v  median %v  max %v", ds[0].Round(r), ds[len(ds)/2].Round(r), ds[len(ds)-1].Round(r))
}

// RSSKiB is the resident set size of process pid in KiB (0 when it cannot be read).
func RSSKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// CPUSeconds is the CPU time (user and system) process pid has used so far.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after its closing parenthesis.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}
