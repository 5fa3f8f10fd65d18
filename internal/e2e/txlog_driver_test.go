package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/driver/process"
	"github.com/ecache/ecache/internal/txlog"
)

// TestDriverRunsLogReplicas: the process driver runs log replicas like engines: it starts them, reports a
// killed one and starts it again on Ensure, and a driver opened later on the same data dir (ecache
// restarted) adopts the running ones. The log keeps every acknowledged write through all of it.
func TestDriverRunsLogReplicas(t *testing.T) {
	dataDir := t.TempDir()
	d, err := process.New(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var peers, apis []string
	var specs []driver.NodeSpec
	for i := range 3 {
		id, raftPort, apiPort := fmt.Sprintf("lg-%d", i), freePort(t), freePort(t)
		peers = append(peers, fmt.Sprintf("%s=127.0.0.1:%d=127.0.0.1:%d", id, raftPort, apiPort))
		apis = append(apis, fmt.Sprintf("127.0.0.1:%d", apiPort))
		specs = append(specs, driver.NodeSpec{ID: id, Engine: driver.EngineTxlog, Binary: ecacheBinary(t), Port: apiPort})
	}
	for i := range specs {
		specs[i].Args = []string{"--id", specs[i].ID, "--peers", strings.Join(peers, ","), "--log-level", "warn"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		// The replicas outlive any driver (they run in their own sessions): a driver opened now removes them.
		last, err := process.New(dataDir, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer last.Close()
		for _, s := range specs {
			if err := last.Remove(context.Background(), s.ID); err != nil {
				t.Error(err)
			}
		}
	})
	ensureAll := func(d *process.Driver) map[string]int {
		t.Helper()
		pids := map[string]int{}
		for _, s := range specs {
			st, err := d.Ensure(ctx, s)
			if err != nil {
				t.Fatalf("ensure %s: %v", s.ID, err)
			}
			pids[s.ID] = st.PID
		}
		return pids
	}
	pids := ensureAll(d)
	c := txlog.NewClient(apis)
	if _, err := c.Fence(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var acked []byte
	write := func(n int) {
		t.Helper()
		for range n {
			data := []byte(fmt.Sprintf("w%05d;", len(acked)))
			if _, err := c.Append(ctx, 1, uint64(len(acked)), data); err != nil {
				t.Fatalf("append: %v", err)
			}
			acked = append(acked, data...)
		}
	}
	write(100)
	if err := d.Kill(ctx, specs[0].ID); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-d.Exits():
		if id != specs[0].ID {
			t.Errorf("exit reported for %s, want %s", id, specs[0].ID)
		}
	case <-time.After(10 * time.Second):
		t.Error("the killed replica's exit was not reported")
	}
	write(100)
	again := ensureAll(d)
	if again[specs[0].ID] == pids[specs[0].ID] || again[specs[1].ID] != pids[specs[1].ID] {
		t.Errorf("pids %v after ensure, were %v: want only the killed replica restarted", again, pids)
	}
	d.Close()
	d2, err := process.New(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if adopted := ensureAll(d2); fmt.Sprint(adopted) != fmt.Sprint(again) {
		t.Errorf("a driver opened again runs replicas %v, want the running ones adopted: %v", adopted, again)
	}
	write(100)
	got, _, err := c.Read(ctx, 0, len(acked)+100)
	if err != nil || !bytes.Equal(got, acked) {
		t.Fatalf("the log reads %d bytes, %v; %d were acknowledged", len(got), err, len(acked))
	}
}
