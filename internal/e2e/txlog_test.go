package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/txlog"
)

// logProcesses runs the replicas of one transaction log as ecache txlog-replica processes.
type logProcesses struct {
	t     *testing.T
	dir   string
	peers []txlog.Peer
	procs []*exec.Cmd
}

func startLog(t *testing.T, n int) *logProcesses {
	t.Helper()
	l := &logProcesses{t: t, dir: t.TempDir(), procs: make([]*exec.Cmd, n)}
	for i := range n {
		l.peers = append(l.peers, txlog.Peer{ID: fmt.Sprintf("log%d", i),
			RaftAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), APIAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))})
	}
	for i := range n {
		l.start(i)
	}
	t.Cleanup(func() {
		for i := range l.procs {
			l.kill(i)
		}
	})
	return l
}

func (l *logProcesses) start(i int) {
	l.t.Helper()
	var peers []string
	for _, p := range l.peers {
		peers = append(peers, p.ID+"="+p.RaftAddr+"="+p.APIAddr)
	}
	cmd := exec.Command(ecacheBinary(l.t), "txlog-replica", "--id", l.peers[i].ID, "--dir", filepath.Join(l.dir, l.peers[i].ID),
		"--peers", strings.Join(peers, ","), "--log-level", "warn")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.procs[i] = cmd
	eventually(l.t, 10*time.Second, "log replica "+l.peers[i].ID+" serving", func() error {
		resp, err := http.Get("http://" + l.peers[i].APIAddr + "/status")
		if err != nil {
			return fmt.Errorf("%v\n%s", err, logs.String())
		}
		resp.Body.Close()
		return nil
	})
}

// kill ends a replica's process as a crash would.
func (l *logProcesses) kill(i int) {
	if p := l.procs[i]; p != nil {
		_ = p.Process.Signal(syscall.SIGKILL)
		_, _ = p.Process.Wait()
		l.procs[i] = nil
	}
}

func (l *logProcesses) apis() []string {
	var out []string
	for _, p := range l.peers {
		out = append(out, p.APIAddr)
	}
	return out
}

// held is what replica i has applied of the log.
func (l *logProcesses) held(i int) ([]byte, error) {
	resp, err := http.Get(fmt.Sprintf("http://%s/read?from=0&max=%d", l.peers[i].APIAddr, 16<<20))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestLogReplicaProcesses runs a three-replica log as processes and SIGKILLs them: the leader alone (the
// others elect one and keep committing), then all three at once. No acknowledged write is lost, and every
// replica ends up with the same bytes.
func TestLogReplicaProcesses(t *testing.T) {
	l := startLog(t, 3)
	c := txlog.NewClient(l.apis())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var acked []byte
	write := func(n int) {
		t.Helper()
		for range n {
			data := []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$4\r\nk%03d\r\n$1\r\nv\r\n", len(acked)%1000))
			if _, err := c.Append(ctx, 1, uint64(len(acked)), data); err != nil {
				t.Fatalf("append at %d: %v", len(acked), err)
			}
			acked = append(acked, data...)
		}
	}
	write(200)
	leader := -1
	for i, p := range l.peers {
		if st, err := c.Status(ctx, p.APIAddr); err == nil && st.State == "Leader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no replica reports itself leader")
	}
	l.kill(leader)
	write(200)
	l.start(leader)
	for i := range l.procs {
		l.kill(i)
	}
	for i := range l.procs {
		l.start(i)
	}
	got, end, err := c.Read(ctx, 0, len(acked)+1000)
	if err != nil || !bytes.Equal(got, acked) || end != uint64(len(acked)) {
		t.Fatalf("after killing every replica the log reads %d bytes (end %d), %v; %d were acknowledged", len(got), end, err, len(acked))
	}
	eventually(t, 20*time.Second, "every replica holding every acknowledged byte", func() error {
		for i := range l.peers {
			if b, err := l.held(i); err != nil || !bytes.Equal(b, acked) {
				return fmt.Errorf("%s holds %d of %d bytes (%v)", l.peers[i].ID, len(b), len(acked), err)
			}
		}
		return nil
	})
}
