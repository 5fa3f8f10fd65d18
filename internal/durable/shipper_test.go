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

// freeAddrs returns n distinct free loopback addresses: all are held until the last is found, so none is
// handed out twice.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// startValkey runs a valkey-server (or redis-server) without persistence; it skips the test without one.
func startValkey(t *testing.T) string {
	t.Helper()
	addr, _ := startEngine(t)
	return addr
}

// startEngine is startValkey that also returns the process, for tests that kill it.
func startEngine(t *testing.T) (string, *exec.Cmd) {
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
			return addr, cmd
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the engine did not start")
	return "", nil
}

// testLog is a three-replica log run in the test's process.
type testLog struct {
	t        *testing.T
	cfgs     []txlog.ReplicaConfig
	replicas []*txlog.Replica
}

// startLog runs a three-replica log in this process and returns it and a client.
func startLog(t *testing.T) (*testLog, *txlog.Client) {
	t.Helper()
	var peers []txlog.Peer
	var apis []string
	addrs := freeAddrs(t, 6)
	for i := range 3 {
		p := txlog.Peer{ID: fmt.Sprintf("r%d", i), RaftAddr: addrs[2*i], APIAddr: addrs[2*i+1]}
		peers = append(peers, p)
		apis = append(apis, p.APIAddr)
	}
	dir := t.TempDir()
	l := &testLog{t: t}
	for _, p := range peers {
		l.cfgs = append(l.cfgs, txlog.ReplicaConfig{Self: p, Dir: filepath.Join(dir, p.ID), Peers: peers})
		l.replicas = append(l.replicas, nil)
	}
	t.Cleanup(func() {
		for i := range l.replicas {
			l.stop(i)
		}
	})
	for i := range l.replicas {
		l.start(i)
	}
	return l, txlog.NewClient(apis)
}

// stop stops replica i (its state stays), start starts it again.
func (l *testLog) stop(i int) {
	if l.replicas[i] != nil {
		l.replicas[i].Close()
		l.replicas[i] = nil
	}
}

func (l *testLog) start(i int) {
	r, err := txlog.StartReplica(l.cfgs[i], nil)
	if err != nil {
		l.t.Fatal(err)
	}
	l.replicas[i] = r
}

// startShipperAndEndpoint attaches a shipper of epoch 1 to the engine at addr and starts an endpoint
// (without a relay) in front of it, configured further by mods.
func startShipperAndEndpoint(t *testing.T, ctx context.Context, addr string, log *txlog.Client, mods ...func(*EndpointConfig)) *Endpoint {
	t.Helper()
	shipper, done := Ship(ctx, ShipperConfig{Primary: resp.Node{Addr: addr}, Log: log, Epoch: 1})
	select {
	case <-shipper.Attached():
	case err := <-done:
		t.Fatal(err)
	}
	cfg := EndpointConfig{Addr: "127.0.0.1:0", Engine: resp.Node{Addr: addr}}
	for _, mod := range mods {
		mod(&cfg)
	}
	ep, err := ListenEndpoint(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// keepIn keeps a shipper's dataset in buf.
func keepIn(buf *bytes.Buffer) func(uint64, func(io.Writer) error) error {
	return func(_ uint64, write func(io.Writer) error) error { return write(buf) }
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
	shipper, done := Ship(sctx, ShipperConfig{Primary: resp.Node{Addr: addr}, Log: log, Epoch: 1, Dataset: keepIn(&dataset)})
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
	replicas.stop(1)
	replicas.stop(2)
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
	ep := startShipperAndEndpoint(t, ctx, addr, log)
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

	replicas.stop(1)
	replicas.stop(2)
	short, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	if err := rdb.Set(short, "unlogged", "x", 0).Err(); err == nil {
		t.Error("a write was acknowledged while the log had no quorum")
	}
}

// TestReadsWaitForUnloggedWrites: while a write is not in the log, another client reading its key (or
// reading without keys, like DBSIZE) is not answered, so nobody sees what a failure could take back; reads
// of other keys are answered at once. Once the log has the write, all are answered, with the new value.
func TestReadsWaitForUnloggedWrites(t *testing.T) {
	addr := startValkey(t)
	replicas, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ep := startShipperAndEndpoint(t, ctx, addr, log)
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: ep.Addr().String(), ReadTimeout: 30 * time.Second})
		t.Cleanup(func() { c.Close() })
		return c
	}
	writer, reader := client(), client()
	for _, k := range []string{"held", "other"} {
		if err := writer.Set(ctx, k, "logged", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	replicas.stop(1)
	replicas.stop(2)
	wrote := make(chan error, 1)
	go func() { wrote <- writer.Set(ctx, "held", "unlogged", 0).Err() }()
	// The write has run on the engine (it is not yet in the log).
	engine := redis.NewClient(&redis.Options{Addr: addr})
	defer engine.Close()
	for v := ""; v != "unlogged"; v, _ = engine.Get(ctx, "held").Result() {
		time.Sleep(5 * time.Millisecond)
	}
	if v, err := reader.Get(ctx, "other").Result(); err != nil || v != "logged" {
		t.Errorf("a read of another key: %q, %v", v, err)
	}
	type answer struct {
		v   string
		err error
	}
	held, dbsize := make(chan answer, 1), make(chan answer, 1)
	go func() {
		v, err := reader.Get(ctx, "held").Result()
		held <- answer{v, err}
	}()
	go func() {
		n, err := client().DBSize(ctx).Result()
		dbsize <- answer{fmt.Sprint(n), err}
	}()
	select {
	case a := <-held:
		t.Fatalf("a read of the key was answered (%q, %v) while its write was not in the log", a.v, a.err)
	case a := <-dbsize:
		t.Fatalf("DBSIZE was answered (%s, %v) while a write was not in the log", a.v, a.err)
	case err := <-wrote:
		t.Fatalf("the write was acknowledged (%v) without a log quorum", err)
	case <-time.After(time.Second):
	}
	replicas.start(1)
	if err := <-wrote; err != nil {
		t.Fatalf("the write once the log is back: %v", err)
	}
	if a := <-held; a.err != nil || a.v != "unlogged" {
		t.Errorf("the held read: %q, %v; want the value now logged", a.v, a.err)
	}
	if a := <-dbsize; a.err != nil || a.v != "2" {
		t.Errorf("the held DBSIZE: %s, %v; want 2", a.v, a.err)
	}
}
