package durable

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startValkey runs a valkey-server (or redis-server) without persistence; it skips the test without one.
func startValkey(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Skip("no valkey-server or redis-server")
		}
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the engine did not start")
	return ""
}

// startLog runs a three-replica log in this process and returns its replicas and a client.
func startLog(t *testing.T) ([]*txlog.Replica, *txlog.Client) {
	t.Helper()
	var peers []txlog.Peer
	var apis []string
	for i := range 3 {
		p := txlog.Peer{ID: fmt.Sprintf("r%d", i), RaftAddr: freeAddr(t), APIAddr: freeAddr(t)}
		peers = append(peers, p)
		apis = append(apis, p.APIAddr)
	}
	dir := t.TempDir()
	var replicas []*txlog.Replica
	for _, p := range peers {
		r, err := txlog.StartReplica(txlog.ReplicaConfig{Self: p, Dir: filepath.Join(dir, p.ID), Peers: peers}, nil)
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, r)
	}
	t.Cleanup(func() {
		for _, r := range replicas {
			if r != nil {
				r.Close()
			}
		}
	})
	return replicas, txlog.NewClient(apis)
}

// TestWaitReturnsOnceTheLogHasTheWrite: with the shipper as the primary's replica, WAIT 1 returns for a
// write once the log has committed it, and does not while the log has no quorum; the dataset taken when the
// shipper attached holds the keys written before.
func TestWaitReturnsOnceTheLogHasTheWrite(t *testing.T) {
	addr := startValkey(t)
	replicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Set(ctx, "before-attach", "dataset-value", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var dataset bytes.Buffer
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	shipper, done := Ship(sctx, ShipperConfig{Primary: resp.Node{Addr: addr}, Log: log, Epoch: 1, Dataset: &dataset})
	select {
	case <-shipper.Attached():
	case err := <-done:
		t.Fatalf("shipper stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the shipper did not attach")
	}
	if !bytes.Contains(dataset.Bytes(), []byte("dataset-value")) {
		t.Errorf("the dataset taken at attach (%d bytes) lacks the key written before", dataset.Len())
	}
	for i := range 50 {
		if err := rdb.Set(ctx, fmt.Sprintf("durable-%d", i), fmt.Sprintf("value-%d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
		if n, err := rdb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
			t.Fatalf("WAIT 1 after write %d = %d, %v; want 1 once the log has it", i, n, err)
		}
	}
	logged, _, err := log.Read(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if !bytes.Contains(logged, []byte(fmt.Sprintf("durable-%d", i))) || !bytes.Contains(logged, []byte(fmt.Sprintf("value-%d", i))) {
			t.Fatalf("the log (%d bytes) lacks write %d, acknowledged by WAIT", len(logged), i)
		}
	}
	if shipper.Committed() == 0 {
		t.Error("the shipper reports no committed offset")
	}
	// Without a quorum the log commits nothing, and WAIT does not return the write.
	replicas[1].Close()
	replicas[2].Close()
	replicas[1], replicas[2] = nil, nil
	if err := rdb.Set(ctx, "no-quorum", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 0 {
		t.Errorf("WAIT 1 without a log quorum = %d, %v; want 0", n, err)
	}
}

// TestEndpointAcknowledgesOnlyLoggedWrites: through the endpoint, a write's reply (alone or in a pipeline)
// comes back once the log has it; reads and subscriptions work as on the engine; while the log has no
// quorum, a write is not acknowledged.
func TestEndpointAcknowledgesOnlyLoggedWrites(t *testing.T) {
	addr := startValkey(t)
	replicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shipper, done := Ship(ctx, ShipperConfig{Primary: resp.Node{Addr: addr}, Log: log, Epoch: 1})
	select {
	case <-shipper.Attached():
	case err := <-done:
		t.Fatal(err)
	}
	ep, err := ListenEndpoint(ctx, "127.0.0.1:0", resp.Node{Addr: addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	rdb := redis.NewClient(&redis.Options{Addr: ep.Addr().String()})
	defer rdb.Close()
	inLog := func(s string) bool {
		logged, _, err := log.Read(ctx, 0, 8<<20)
		return err == nil && bytes.Contains(logged, []byte(s))
	}
	if err := rdb.Set(ctx, "single-write", "one", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if !inLog("single-write") {
		t.Error("a write was acknowledged before the log had it")
	}
	pipe := rdb.Pipeline()
	for i := range 200 {
		pipe.Set(ctx, fmt.Sprintf("piped-%03d", i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if !inLog(fmt.Sprintf("piped-%03d", i)) {
			t.Fatalf("pipelined write %d acknowledged before the log had it", i)
		}
	}
	// A transaction sent in pieces: nothing is waited for while it is open, and EXEC's reply is whole.
	tx := rdb.TxPipeline()
	tx.Set(ctx, "in-multi-a", "1", 0)
	tx.Incr(ctx, "in-multi-b")
	if cmds, err := tx.Exec(ctx); err != nil || len(cmds) != 2 || cmds[1].(*redis.IntCmd).Val() != 1 {
		t.Errorf("MULTI/EXEC through the endpoint: %v, %v", cmds, err)
	}
	if !inLog("in-multi-b") {
		t.Error("a transaction was acknowledged before the log had it")
	}
	multi, err := net.Dial("tcp", ep.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer multi.Close()
	for _, cmd := range [][]string{{"MULTI"}, {"SET", "split-tx", "1"}, {"EXEC"}} {
		if _, err := multi.Write(resp.AppendCommand(nil, cmd...)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // one batch per command
	}
	multi.SetReadDeadline(time.Now().Add(5 * time.Second))
	want := "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
	got := make([]byte, len(want)+16)
	n, _ := io.ReadAtLeast(multi, got, len(want))
	if string(got[:n]) != want {
		t.Errorf("a transaction sent command by command got %q, want %q", got[:n], want)
	}
	if v, err := rdb.Get(ctx, "piped-199").Int(); err != nil || v != 199 {
		t.Errorf("GET through the endpoint = %d, %v", v, err)
	}
	sub := rdb.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Publish(ctx, "news", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	if msg, err := sub.ReceiveMessage(ctx); err != nil || msg.Payload != "hello" {
		t.Errorf("subscription through the endpoint got %v, %v", msg, err)
	}

	replicas[1].Close()
	replicas[2].Close()
	replicas[1], replicas[2] = nil, nil
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if err := rdb.Set(short, "unlogged", "x", 0).Err(); err == nil {
		t.Error("a write was acknowledged while the log had no quorum")
	}
}
