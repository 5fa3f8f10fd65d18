// Command durability measures Durability sync and async on real engines against the same group shape
// without it, in one run: SET throughput and latency through a TLS cluster client (1 and 16 clients), the
// time from SIGKILL
// of a shard's primary engine to the first acknowledged write in that shard, and the time a shard that lost
// every engine takes to serve writes again, against the size of its dataset (restored from its log).
//
//	go run ./bench/durability [-requests 20000] [-failovers 5] [-sizes 100]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	requests := flag.Int("requests", 20000, "SETs per measure")
	failovers := flag.Int("failovers", 5, "failovers of the sync group to time")
	sizes := flag.String("sizes", "100", "dataset sizes (MB) for the whole-shard recovery, comma-separated; empty skips it")
	flag.Parse()
	if err := run(*requests, *failovers, *sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const token = "bench-token-0123456789"

type bench struct {
	srv *benchkit.Server
	c   *elasticache.Client
	tls *tls.Config
}

func run(requests, failovers int, sizes string) error {
	srv, err := benchkit.Start("31000-31199")
	if err != nil {
		return err
	}
	defer srv.Stop()
	b := &bench{srv: srv, c: srv.Client()}
	ctx := context.Background()
	clients := map[string]*redis.ClusterClient{}
	modes := []string{"disabled", "sync", "async"}
	for _, d := range modes {
		cc, err := b.createGroup(ctx, d, types.Durability(d))
		if err != nil {
			return err
		}
		defer cc.Close()
		clients[d] = cc
	}
	value := strings.Repeat("v", 100)
	fmt.Printf("SET of 100 bytes through a TLS cluster client, %d requests per row (1 shard: a primary and a replica)\n\n", requests)
	fmt.Println("| clients | disabled | sync | sync / disabled | async | async / disabled |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, conc := range []int{1, 16} {
		row := map[string]string{}
		rate := map[string]float64{}
		for _, d := range modes {
			cc := clients[d]
			var i atomic.Int64
			r, lat, err := benchkit.Load(requests, conc, func() error {
				return cc.Set(ctx, "k"+strconv.Itoa(int(i.Add(1)%10000)), value, 0).Err()
			})
			if err != nil {
				return fmt.Errorf("%s: %w", d, err)
			}
			rate[d] = r
			row[d] = fmt.Sprintf("%.0f/s, p50 %v, p99 %v", r, benchkit.Percentile(lat, 0.5).Round(10*time.Microsecond), benchkit.Percentile(lat, 0.99).Round(10*time.Microsecond))
		}
		fmt.Printf("| %d | %s | %s | %.2fx | %s | %.2fx |\n", conc, row["disabled"], row["sync"], rate["sync"]/rate["disabled"],
			row["async"], rate["async"]/rate["disabled"])
	}
	if err := b.failovers(ctx, clients["sync"], failovers); err != nil {
		return err
	}
	for _, s := range strings.Split(sizes, ",") {
		if mb, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && mb > 0 {
			if err := b.recovery(ctx, clients["sync"], mb); err != nil {
				return err
			}
		}
	}
	return nil
}

// createGroup creates a one-shard group with a replica, TLS and durability d, and returns a client once it
// is available.
func (b *bench) createGroup(ctx context.Context, id string, d types.Durability) (*redis.ClusterClient, error) {
	_, err := b.c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.r7g.large"), NumNodeGroups: aws.Int32(1), ReplicasPerNodeGroup: aws.Int32(1),
		MultiAZEnabled: aws.Bool(true), AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true),
		AuthToken: aws.String(token), Durability: d, ClusterMode: types.ClusterModeEnabled,
	})
	if err != nil {
		return nil, err
	}
	g, err := b.waitAvailable(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.tls == nil {
		pem, err := os.ReadFile(filepath.Join(b.srv.Dir, "data", "tls", "ca.pem"))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		b.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	ep := g.ConfigurationEndpoint
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{fmt.Sprintf("%s:%d", aws.ToString(ep.Address), aws.ToInt32(ep.Port))}, Password: token, TLSConfig: b.tls,
		PoolSize: 32, DialTimeout: 200 * time.Millisecond, ReadTimeout: 2 * time.Second, MaxRedirects: 8,
		MaxRetries: -1,
	}), nil
}

func (b *bench) waitAvailable(ctx context.Context, id string) (types.ReplicationGroup, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		g, err := benchkit.Group(ctx, b.c, id)
		if err == nil && aws.ToString(g.Status) == "available" {
			return g, nil
		}
		if time.Now().After(deadline) {
			return g, fmt.Errorf("%s not available: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// enginePIDs are the live engines of group id's members (not its log replicas).
func (b *bench) enginePIDs(id string) []int {
	var out []int
	for name, pid := range b.srv.EnginePIDs() {
		if strings.HasPrefix(name, id+"-") && !strings.Contains(name, "-log-") {
			out = append(out, pid)
		}
	}
	return out
}

// primaryPID is the pid of the engine serving slot 0.
func (b *bench) primaryPID(ctx context.Context, cc *redis.ClusterClient, id string) (int, error) {
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		return 0, err
	}
	port := slots[0].Nodes[0].Addr[strings.LastIndexByte(slots[0].Nodes[0].Addr, ':')+1:]
	out, err := b.c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		return 0, err
	}
	for _, cl := range out.CacheClusters {
		if aws.ToString(cl.ReplicationGroupId) == id && fmt.Sprint(aws.ToInt32(cl.CacheNodes[0].Endpoint.Port)) == port {
			for name, pid := range b.srv.EnginePIDs() {
				if strings.HasPrefix(name, aws.ToString(cl.CacheClusterId)+"-0001-") {
					return pid, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no engine serves port %s", port)
}

// untilWritable returns how long after start a SET in the shard first succeeds.
func untilWritable(ctx context.Context, cc *redis.ClusterClient, start time.Time) (time.Duration, error) {
	deadline := start.Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := cc.Set(wctx, "probe", "1", 0).Err()
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("no write acknowledged within 2 minutes")
}

// failovers times SIGKILL of the sync group's primary to its first acknowledged write, n times.
func (b *bench) failovers(ctx context.Context, cc *redis.ClusterClient, n int) error {
	var took []time.Duration
	for range n {
		if _, err := b.waitAvailable(ctx, "sync"); err != nil {
			return err
		}
		time.Sleep(time.Second) // the old primary back as a replica, fed by the log
		pid, err := b.primaryPID(ctx, cc, "sync")
		if err != nil {
			return err
		}
		start := time.Now()
		_ = syscall.Kill(pid, syscall.SIGKILL)
		d, err := untilWritable(ctx, cc, start)
		if err != nil {
			return err
		}
		took = append(took, d)
	}
	if n > 0 {
		fmt.Printf("\nSIGKILL of the sync group's primary engine -> first acknowledged write (%d runs): %s\n", n, benchkit.Summary(took))
	}
	return nil
}

// recovery fills the sync group's shard with mb MB, kills every engine of the shard and times how long
// until it takes writes again (the restarted replica fed the checkpoint and the log, then promoted), and
// checks a sample of the keys.
func (b *bench) recovery(ctx context.Context, cc *redis.ClusterClient, mb int) error {
	if _, err := b.waitAvailable(ctx, "sync"); err != nil {
		return err
	}
	value := strings.Repeat("x", 1024)
	keys := mb * 1024
	start := time.Now()
	for i := 0; i < keys; i += 500 {
		pipe := cc.Pipeline()
		for k := i; k < min(i+500, keys); k++ {
			pipe.Set(ctx, "data:"+strconv.Itoa(k), value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("loading %d MB: %w", mb, err)
		}
	}
	loaded := time.Since(start)
	time.Sleep(time.Second)
	kill := time.Now()
	for _, pid := range b.enginePIDs("sync") {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	d, err := untilWritable(ctx, cc, kill)
	if err != nil {
		return err
	}
	for _, k := range []int{0, keys / 2, keys - 1} {
		if v, err := cc.Get(ctx, "data:"+strconv.Itoa(k)).Result(); err != nil || v != value {
			return fmt.Errorf("after the recovery, data:%d = %d bytes, %v", k, len(v), err)
		}
	}
	fmt.Printf("%d MB (%d keys of 1 KiB, loaded in %v): every engine of the shard SIGKILLed -> writes again after %v\n",
		mb, keys, loaded.Round(time.Millisecond), d.Round(time.Millisecond))
	return nil
}
