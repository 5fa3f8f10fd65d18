// Command txlog measures the durability transaction log: three `ecache txlog-replica` processes on
// loopback, appends committed one after another (each waits for a quorum of replicas to have it on disk),
// side by side in the same run with SET on a bare valkey-server (what a write costs without the log), for
// small writes and for 16 KiB batches; then a durable write as sync durability will make it, SET followed by
// WAIT 1 with the shipper copying the engine's stream into the log, against plain SET, for one client and
// for many (whose writes the shipper commits together).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
	"github.com/ecache/ecache/internal/durable"
	"github.com/ecache/ecache/internal/resp"
	"github.com/ecache/ecache/internal/txlog"
)

func main() {
	n := flag.Int("n", 2000, "writes per case")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "txlog bench:", err)
		os.Exit(1)
	}
}

// percentiles is p50 and p99 to the microsecond.
func percentiles(ds []time.Duration) string {
	return fmt.Sprintf("p50 %v, p99 %v", benchkit.Percentile(ds, 0.50).Round(time.Microsecond), benchkit.Percentile(ds, 0.99).Round(time.Microsecond))
}

func run(n int) error {
	dir, err := os.MkdirTemp("", "ecache-bench-txlog")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := benchkit.Binary(dir)
	if err != nil {
		return err
	}
	var peers []txlog.Peer
	var spec []string
	for i := range 3 {
		p := txlog.Peer{ID: fmt.Sprintf("log%d", i), RaftAddr: fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort()), APIAddr: fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort())}
		peers = append(peers, p)
		spec = append(spec, p.ID+"="+p.RaftAddr+"="+p.APIAddr)
	}
	var apis []string
	for _, p := range peers {
		cmd := exec.Command(bin, "txlog-replica", "--id", p.ID, "--dir", filepath.Join(dir, p.ID), "--peers", strings.Join(spec, ","), "--log-level", "error")
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
		if err := benchkit.WaitListening(p.APIAddr, 10*time.Second); err != nil {
			return err
		}
		apis = append(apis, p.APIAddr)
	}
	valkeyPort := benchkit.FreePort()
	stopValkey, err := benchkit.StartEngine("valkey-server", valkeyPort)
	if err != nil {
		return err
	}
	defer stopValkey()
	valkeyAddr := fmt.Sprintf("127.0.0.1:%d", valkeyPort)
	rdb := redis.NewClient(&redis.Options{Addr: valkeyAddr})
	defer rdb.Close()

	ctx := context.Background()
	c := txlog.NewClient(apis)
	if _, err := c.Fence(ctx, 1); err != nil {
		return err
	}
	var offset uint64
	fmt.Printf("%d writes per case, one at a time; the log has 3 replica processes on this host\n\n", n)
	fmt.Println("| case | bare valkey-server SET | txlog append (quorum on disk) | ratio (txlog / valkey) |")
	fmt.Println("|---|---|---|---|")
	for _, size := range []int{100, 16 << 10} {
		value := strings.Repeat("x", size)
		_, engine, err := benchkit.Load(n, 1, func() error { return rdb.Set(ctx, "k", value, 0).Err() })
		if err != nil {
			return err
		}
		_, logged, err := benchkit.Load(n, 1, func() error {
			end, err := c.Append(ctx, 1, offset, []byte(value))
			offset = end
			return err
		})
		if err != nil {
			return err
		}
		p50 := float64(benchkit.Percentile(logged, 0.50)) / float64(benchkit.Percentile(engine, 0.50))
		p99 := float64(benchkit.Percentile(logged, 0.99)) / float64(benchkit.Percentile(engine, 0.99))
		fmt.Printf("| %d B | %s | %s | p50 %.1fx, p99 %.1fx |\n", size, percentiles(engine), percentiles(logged), p50, p99)
	}
	return durableWrites(ctx, n, valkeyAddr, c)
}

// durableWrites compares SET with SET + WAIT 1 while the shipper copies the engine's stream into the log.
func durableWrites(ctx context.Context, n int, addr string, log *txlog.Client) error {
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	shipper, done := durable.Ship(sctx, durable.ShipperConfig{Primary: resp.Node{Addr: addr}, Log: log, Epoch: 2})
	select {
	case <-shipper.Attached():
	case err := <-done:
		return err
	}
	ep, err := durable.ListenEndpoint(ctx, durable.EndpointConfig{Addr: "127.0.0.1:0", Engine: resp.Node{Addr: addr}})
	if err != nil {
		return err
	}
	defer ep.Close()
	fmt.Println()
	fmt.Println("| clients | SET | SET + WAIT 1 (in the log) | ratio | SET through the durable endpoint | ratio |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, clients := range []int{1, 16} {
		pool := redis.NewClient(&redis.Options{Addr: addr, PoolSize: clients})
		plainRate, plain, err := benchkit.Load(n, clients, func() error { return pool.Set(ctx, "k", "v", 0).Err() })
		if err != nil {
			return err
		}
		syncRate, synced, err := benchkit.Load(n, clients, func() error {
			pipe := pool.Pipeline()
			pipe.Set(ctx, "k", "v", 0)
			wait := pipe.Do(ctx, "WAIT", 1, 5000)
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			if got, _ := wait.Int(); got != 1 {
				return fmt.Errorf("WAIT 1 = %d", got)
			}
			return nil
		})
		pool.Close()
		if err != nil {
			return err
		}
		viaEP := redis.NewClient(&redis.Options{Addr: ep.Addr().String(), PoolSize: clients})
		epRate, viaEndpoint, err := benchkit.Load(n, clients, func() error { return viaEP.Set(ctx, "k", "v", 0).Err() })
		viaEP.Close()
		if err != nil {
			return err
		}
		fmt.Printf("| %d | %.0f/s, %s | %.0f/s, %s | throughput %.3fx | %.0f/s, %s | throughput %.3fx |\n", clients, plainRate, percentiles(plain),
			syncRate, percentiles(synced), syncRate/plainRate, epRate, percentiles(viaEndpoint), epRate/plainRate)
	}
	return nil
}
