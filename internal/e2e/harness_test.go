// Package e2e tests ecache as a user runs it: the real binary, signed requests from aws-sdk-go-v2,
// and real engines answering at the endpoints it reports.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/ecache/ecache/internal/sdkhttp"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// ecacheBinary builds cmd/ecache once per test run.
func ecacheBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ecache-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "ecache")
		args := []string{"build", "-o", binary}
		if os.Getenv("ECACHE_E2E_RACE") != "" {
			args = append(args, "-race") // the served binary reports data races to its log
		}
		out, err := exec.Command("go", append(args, "github.com/ecache/ecache/cmd/ecache")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func requireBinary(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s is not installed", n)
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var portBlock struct {
	sync.Mutex
	next int
}

// nodePortRange hands each server its own block of 100 ports for engines, in 20000-23999.
func nodePortRange() (int, int) {
	portBlock.Lock()
	defer portBlock.Unlock()
	// Below Linux's ephemeral range (32768-60999): a port the system may hand to any socket would
	// sooner or later be taken while an engine wants it.
	if portBlock.next == 0 {
		portBlock.next = 20000 + (os.Getpid()%40)*100
	}
	lo := portBlock.next
	portBlock.next += 100
	if portBlock.next > 23900 {
		portBlock.next = 20000
	}
	return lo, lo + 99
}

// ecacheProcess is one running `ecache serve`.
type ecacheProcess struct {
	t       *testing.T
	dataDir string
	listen  string
	ports   string
	cmd     *exec.Cmd
	keyID   string
	secret  string
	account string
	logPath string
	// args are extra `ecache serve` flags, used by every (re)start.
	args []string
}

// startServer starts ecache on a fresh data dir, with extra serve flags args; the server and every engine
// are gone after the test.
func startServer(t *testing.T, args ...string) *ecacheProcess {
	t.Helper()
	lo, hi := nodePortRange()
	s := &ecacheProcess{t: t, dataDir: t.TempDir(), ports: fmt.Sprintf("%d-%d", lo, hi), args: args}
	s.listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.start()
	t.Cleanup(func() {
		if strings.Contains(s.logs(), "WARNING: DATA RACE") {
			t.Errorf("ecache reported a data race:\n%s", s.logs())
		} else if t.Failed() || os.Getenv("ECACHE_E2E_LOGS") != "" {
			t.Logf("ecache log:\n%s", s.logs())
		}
		s.kill()
		killEngines(s.dataDir)
	})
	return s
}

// start runs the binary (again) on the server's data dir and waits for it to listen.
func (s *ecacheProcess) start() {
	t := s.t
	t.Helper()
	s.logPath = filepath.Join(s.dataDir, fmt.Sprintf("ecache-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ecacheBinary(t), append([]string{"serve", "--listen", s.listen, "--data-dir", s.dataDir, "--node-ports", s.ports, "--log-level", "debug"}, s.args...)...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd = cmd
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for s.keyID == "" || s.secret == "" || !listening(s.listen) {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "AWS_ACCESS_KEY_ID="); ok {
				s.keyID = v
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "AWS_SECRET_ACCESS_KEY="); ok {
				s.secret = v
			}
		case <-deadline:
			log, _ := os.ReadFile(s.logPath)
			t.Fatalf("ecache did not start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	var creds struct {
		AccountID string `json:"accountId"`
	}
	b, _ := os.ReadFile(filepath.Join(s.dataDir, "credentials.json"))
	_ = json.Unmarshal(b, &creds)
	s.account = creds.AccountID
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// kill stops ecache with SIGKILL (engines keep running, as after a crash).
func (s *ecacheProcess) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// stop stops ecache with SIGTERM and waits for a clean exit.
func (s *ecacheProcess) stop() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	err := s.cmd.Wait()
	s.cmd = nil
	return err
}

func (s *ecacheProcess) logs() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// client returns an SDK client signing with the server's credentials in region.
func (s *ecacheProcess) client(region string) *elasticache.Client {
	return elasticache.New(elasticache.Options{
		Region:       region,
		BaseEndpoint: aws.String("http://" + s.listen),
		Credentials:  credentials.NewStaticCredentialsProvider(s.keyID, s.secret, ""),
		HTTPClient:   sdkhttp.Client(),
	})
}

// enginePIDs lists the pids recorded for the engines under dataDir whose processes are alive, by node
// directory name.
func enginePIDs(dataDir string) map[string]int {
	return recordedPIDs(filepath.Join(dataDir, "nodes", "*", "node.json"))
}

// recordedPIDs lists the live pids the files matching pattern record, by directory name.
func recordedPIDs(pattern string) map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(pattern)
	for _, f := range files {
		var rec struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.PID == 0 {
			continue
		}
		if syscall.Kill(rec.PID, 0) == nil && !zombie(rec.PID) {
			out[filepath.Base(filepath.Dir(f))] = rec.PID
		}
	}
	return out
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// killEngines kills every process working in a directory under dataDir: the nodes' engines, the idle warm
// ones, and an engine started just before ecache was killed, which may not be recorded yet.
func killEngines(dataDir string) {
	for _, pid := range processesIn(dataDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processesIn lists the live processes whose working directory is inside dir (the driver starts each engine
// in its own directory).
func processesIn(dir string) []int {
	abs, _ := filepath.Abs(dir)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && strings.HasPrefix(cwd, abs+string(filepath.Separator)) && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventually retries fn until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func killPID(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

// syscallStop freezes a process as a hung engine would be.
func syscallStop(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }

// filesUnder lists the regular files below dir (none when it does not exist).
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
