package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// register is one operation of a history: a GET, or a SET of a value no other SET writes.
type register struct {
	set        bool
	key, value string
}

// registerModel is a register per key: a GET returns the last value SET ("" before any).
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(register).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(register)
		if in.set {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		if in := input.(register); in.set {
			return fmt.Sprintf("set %s %s", in.key, in.value)
		}
		return fmt.Sprintf("get %s -> %q", input.(register).key, output)
	},
}

// recorder keeps the operations of concurrent clients.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *recorder) add(op porcupine.Operation) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// TestDurableGroupIsLinearizable (Jepsen-style, checked with porcupine) runs clients that GET and SET a few
// keys on the primary of a sync group, through the real binary, its node endpoints and TLS, while in turn:
// the log's leader is SIGKILLed; the log is cut off (every log replica SIGSTOPped) and comes back; the
// primary engine is SIGKILLed; the log is cut off and the primary SIGKILLed meanwhile; ecache itself is
// SIGKILLed and started again. The history every client saw (a SET without a reply may or may not have
// happened) must be linearizable: no acknowledged write lost, no read of a write that was then lost.
func TestDurableGroupIsLinearizable(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	const token = "durable-token-0123456789"
	_, newClient := createDurableGroupWith(t, srv, "jepsen", token, func(in *elasticache.CreateReplicationGroupInput) {
		in.NumNodeGroups, in.ClusterMode = aws.Int32(1), types.ClusterModeEnabled
	})
	discovery := newClient()
	var current atomic.Value
	current.Store(primaryAddr(t, discovery))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // follows the primary as the cluster reports it
		for ctx.Err() == nil {
			if a, err := slot0Primary(ctx, discovery); err == nil {
				current.Store(a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	rec := &recorder{start: time.Now()}
	keys := []string{"r0", "r1", "r2", "r3", "r4", "r5"}
	var stop atomic.Bool
	var wg sync.WaitGroup
	tlsConfig := &tls.Config{RootCAs: nodeCA(t, srv), ServerName: "127.0.0.1"}
	for id := range 4 {
		wg.Go(func() { registerClient(ctx, id, keys, token, tlsConfig, &current, &stop, rec) })
	}
	traffic := func() { time.Sleep(2 * time.Second) }
	var cuts [][2]int64 // while the log was stopped
	cutLog := func(d time.Duration, during func()) {
		signalLogReplicas(t, srv, syscall.SIGSTOP)
		from := rec.now()
		if during != nil {
			during()
		}
		time.Sleep(d)
		cuts = append(cuts, [2]int64{from, rec.now()})
		signalLogReplicas(t, srv, syscall.SIGCONT)
	}
	killPrimary := func() { killPID(t, engineOf(t, srv, primaryOfSlot(t, c, discovery, 0))) }

	traffic()
	killPID(t, enginePIDs(srv.dataDir)[logLeader(t, srv)])
	traffic()
	cutLog(3*time.Second, nil)
	traffic()
	killPrimary()
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	cutLog(2*time.Second, killPrimary)
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	srv.kill()
	srv.start()
	waitGroupAvailable(t, c, "jepsen")
	traffic()
	stop.Store(true)
	wg.Wait()

	final := redis.NewClient(&redis.Options{Addr: primaryAddr(t, newClient()), Password: token, TLSConfig: tlsConfig})
	defer final.Close()
	for _, k := range keys {
		call := rec.now()
		v, err := final.Get(ctxT(t), k).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		rec.add(porcupine.Operation{ClientId: 99, Input: register{key: k}, Call: call, Output: v, Return: rec.now()})
	}
	sets, unknown := 0, 0
	for _, op := range rec.ops {
		if !op.Input.(register).set {
			continue
		}
		sets++
		if op.Return == math.MaxInt64 {
			unknown++
		}
		for _, cut := range cuts {
			if op.Call > cut[0] && op.Return < cut[1] {
				t.Errorf("%v was acknowledged while the log was stopped", op.Input)
			}
		}
	}
	events, err := c.DescribeEvents(ctxT(t), &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("jepsen")})
	if err != nil {
		t.Fatal(err)
	}
	failovers := 0
	for _, e := range events.Events {
		if strings.HasPrefix(aws.ToString(e.Message), "Failover from primary node") {
			failovers++
		}
	}
	if failovers < 2 {
		t.Errorf("%d failovers recorded, want one per primary killed", failovers)
	}
	t.Logf("%d operations, %d sets (%d without a reply)", len(rec.ops), sets, unknown)
	if sets < 200 {
		t.Errorf("only %d sets in the history", sets)
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, rec.ops, 2*time.Minute)
	if res != porcupine.Ok {
		t.Errorf("the history is not linearizable (%v)", res)
		if path := t.TempDir() + "/history.html"; porcupine.VisualizePath(registerModel, info, path) == nil {
			t.Logf("history: %s", path)
		}
	}
}

// slot0Primary is the address of the primary serving slot 0, as the cluster reports it.
func slot0Primary(ctx context.Context, cc *redis.ClusterClient) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	slots, err := cc.ClusterSlots(sctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if s.Start == 0 && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("no node serves slot 0")
}

func primaryAddr(t *testing.T, cc *redis.ClusterClient) string {
	t.Helper()
	var addr string
	eventually(t, 30*time.Second, "the primary of slot 0", func() (err error) {
		addr, err = slot0Primary(ctxT(t), cc)
		return err
	})
	return addr
}

// logLeader is the driver id of the log replica that leads node group 0001's log.
func logLeader(t *testing.T, srv *ecacheProcess) string {
	t.Helper()
	for id, api := range logReplicas(t, srv.dataDir) {
		resp, err := http.Get("http://" + api + "/status")
		if err != nil {
			continue
		}
		var st struct{ State string }
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if strings.Contains(id, "-0001-log-") && st.State == "Leader" {
			return id
		}
	}
	t.Fatal("node group 0001's log has no leader")
	return ""
}

// registerClient sends random GETs and SETs to the current primary until stop, recording each; it never
// retries an operation (a retried SET could take effect twice).
func registerClient(ctx context.Context, id int, keys []string, token string, cfg *tls.Config, current *atomic.Value, stop *atomic.Bool, rec *recorder) {
	dial := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addr, Password: token, TLSConfig: cfg, MaxRetries: -1, PoolSize: 1,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second})
	}
	addr := current.Load().(string)
	c := dial(addr)
	defer func() { c.Close() }()
	for seq := 0; !stop.Load(); seq++ {
		if now := current.Load().(string); now != addr {
			c.Close()
			addr = now
			c = dial(addr)
		}
		in := register{key: keys[rand.IntN(len(keys))], set: rand.IntN(2) == 0}
		call := rec.now()
		var out string
		var err error
		if in.set {
			in.value = fmt.Sprintf("c%d-%d", id, seq)
			err = c.Set(ctx, in.key, in.value, 0).Err()
		} else if out, err = c.Get(ctx, in.key).Result(); err == redis.Nil {
			out, err = "", nil
		}
		switch {
		case err == nil:
			rec.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: rec.now()})
			continue
		case in.set:
			// No reply: the write may or may not have happened, at any time from now on.
			rec.add(porcupine.Operation{ClientId: id, Input: in, Call: call, Output: "", Return: math.MaxInt64})
		}
		// Wait for the primary to move, or a second, before trying again: writes of unknown outcome stay few.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && current.Load().(string) == addr && !stop.Load(); {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
