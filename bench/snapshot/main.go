// Command snapshot measures snapshots on real engines, side by side with a bare engine doing the same job:
//
//   - ecache: CreateSnapshot of a cache cluster holding -mb MiB (random values of -value bytes, 1 KiB by
//     default) until the snapshot is available, and CreateCacheCluster with SnapshotName until the new
//     cluster is available;
//
//   - bare: the same engine binary, same data, doing BGSAVE (until rdb_bgsave_in_progress is 0), and a new
//     process loading that RDB file (until it answers PING);
//
//   - the SET latency a client sees before and during the snapshot, and during the bare BGSAVE (p50, p99). A
//     client sends SETs during both the snapshot and the BGSAVE, so both copy under the same write load;
//
//   - with -s3 (moto_server and the AWS CLI installed): CopySnapshot with TargetBucket to moto_server until
//     the snapshot is available again, and CreateCacheCluster with SnapshotArns until available, side by
//     side with `aws s3 cp` uploading the same file to the same server (its defaults: multipart, 10
//     threads), and downloading it in one GET (plus the bare load of the file).
//
//     go run ./bench/snapshot [-mb 1024] [-engine valkey]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

// valueSize is the size of each value (-value): small values make many keys, which load slower per byte.
var valueSize = 1024

func main() {
	mb := flag.Int("mb", 1024, "dataset size in MiB")
	eng := flag.String("engine", "valkey", "valkey or redis")
	withS3 := flag.Bool("s3", false, "also measure export to and restore from moto_server")
	flag.IntVar(&valueSize, "value", valueSize, "bytes per value, at least 16")
	flag.Parse()
	valueSize = max(valueSize, 16)
	if err := run(*mb, *eng, *withS3); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// load writes keys keys whose values are valueSize random bytes, which the RDB format cannot compress, so the
// file is as large as the data.
func load(ctx context.Context, rdb *redis.Client, keys int) error {
	block := make([]byte, valueSize-8)
	for i := range block {
		block[i] = byte(rand.IntN(256))
	}
	value := string(block)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			p := rdb.Pipeline()
			for i := w; i < keys; i += 4 {
				p.Set(ctx, "key:"+strconv.Itoa(i), fmt.Sprintf("%08d", i)+value, 0)
				if p.Len() == 1000 {
					if _, err := p.Exec(ctx); err != nil {
						errs <- err
						return
					}
				}
			}
			if _, err := p.Exec(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// latencies runs SETs one after another until stop closes and returns their latencies.
func latencies(rdb *redis.Client, stop <-chan struct{}) []time.Duration {
	var out []time.Duration
	for i := 0; ; i++ {
		select {
		case <-stop:
			return out
		default:
		}
		t := time.Now()
		if err := rdb.Set(context.Background(), "probe:"+strconv.Itoa(i%1000), i, 0).Err(); err == nil {
			out = append(out, time.Since(t))
		}
	}
}

func waitClusterAvailable(ctx context.Context, c *elasticache.Client, id string) (string, error) {
	for {
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err == nil && aws.ToString(out.CacheClusters[0].CacheClusterStatus) == "available" {
			n := out.CacheClusters[0].CacheNodes[0]
			return fmt.Sprintf("%s:%d", aws.ToString(n.Endpoint.Address), aws.ToInt32(n.Endpoint.Port)), nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func run(mb int, eng string, withS3 bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	keys := mb << 20 / valueSize
	var args []string
	if withS3 {
		stop, err := startMoto()
		if err != nil {
			return err
		}
		defer stop()
		args = []string{"--s3-endpoint", motoEndpoint, "--s3-access-key-id", "bench", "--s3-secret-access-key", "bench"}
	}
	srv, err := benchkit.Start("30300-30349", args...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Client()
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"), Engine: aws.String(eng), CacheNodeType: aws.String("cache.r7g.large")}); err != nil {
		return err
	}
	srcAddr, err := waitClusterAvailable(ctx, c, "src")
	if err != nil {
		return err
	}
	src := redis.NewClient(&redis.Options{Addr: srcAddr})
	defer src.Close()
	fmt.Printf("loading %d keys (%d MiB of values) into %s...\n", keys, mb, eng)
	if err := load(ctx, src, keys); err != nil {
		return err
	}
	mem, _ := src.Info(ctx, "memory").Result()
	fmt.Printf("used_memory_human: %s\n", field(mem, "used_memory_human"))

	// SET latency before, then during the snapshot.
	stop := make(chan struct{})
	time.AfterFunc(3*time.Second, func() { close(stop) })
	before := latencies(src, stop)

	stop = make(chan struct{})
	during := make(chan []time.Duration)
	go func() { during <- latencies(src, stop) }()
	start := time.Now()
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("bench")}); err != nil {
		return err
	}
	var size string
	for {
		out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("bench")})
		if err != nil {
			return err
		}
		if s := aws.ToString(out.Snapshots[0].SnapshotStatus); s == "available" {
			size = aws.ToString(out.Snapshots[0].NodeSnapshots[0].CacheSize)
			break
		} else if s == "failed" {
			return fmt.Errorf("snapshot failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	snapTook := time.Since(start)
	close(stop)
	duringSnap := <-during
	files, _ := filepath.Glob(filepath.Join(srv.Dir, "data", "snapshots", "*", "*.rdb"))
	if len(files) != 1 {
		return fmt.Errorf("snapshot files: %v", files)
	}
	st, err := os.Stat(files[0])
	if err != nil {
		return err
	}
	rdbMB := float64(st.Size()) / (1 << 20)

	start = time.Now()
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("dst"), Engine: aws.String(eng),
		CacheNodeType: aws.String("cache.r7g.large"), SnapshotName: aws.String("bench")}); err != nil {
		return err
	}
	dstAddr, err := waitClusterAvailable(ctx, c, "dst")
	if err != nil {
		return err
	}
	restoreTook := time.Since(start)
	dst := redis.NewClient(&redis.Options{Addr: dstAddr})
	defer dst.Close()
	restored := dst.DBSize(ctx).Val()

	bareSave, bareLoad, duringBGSAVE, err := bare(ctx, eng, files[0])
	if err != nil {
		return err
	}

	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.0f MB/s, %.0f keys/s", rdbMB/d.Seconds(), float64(keys)/d.Seconds())
	}
	fmt.Printf("RDB file: %.1f MiB (CacheSize %q); restored keys: %d of %d\n", rdbMB, size, restored, keys)
	fmt.Printf("snapshot: ecache CreateSnapshot -> available %v (%s); bare BGSAVE %v (%s); ratio %.2f\n",
		snapTook.Round(time.Millisecond), rate(snapTook), bareSave.Round(time.Millisecond), rate(bareSave), bareSave.Seconds()/snapTook.Seconds())
	fmt.Printf("restore: ecache CreateCacheCluster -> available %v (%s); bare load %v (%s); ratio %.2f\n",
		restoreTook.Round(time.Millisecond), rate(restoreTook), bareLoad.Round(time.Millisecond), rate(bareLoad), bareLoad.Seconds()/restoreTook.Seconds())
	fmt.Printf("SET latency before: p50 %v p99 %v (%d SETs); during the snapshot: p50 %v p99 %v (%d SETs)\n",
		benchkit.Percentile(before, 0.5), benchkit.Percentile(before, 0.99), len(before),
		benchkit.Percentile(duringSnap, 0.5), benchkit.Percentile(duringSnap, 0.99), len(duringSnap))
	fmt.Printf("SET latency during the bare BGSAVE: p50 %v p99 %v (%d SETs)\n",
		benchkit.Percentile(duringBGSAVE, 0.5), benchkit.Percentile(duringBGSAVE, 0.99), len(duringBGSAVE))
	if withS3 {
		return exportImport(ctx, c, eng, files[0], rdbMB, bareLoad)
	}
	return nil
}

const motoEndpoint = "http://127.0.0.1:30392"

// startMoto runs moto_server as the S3 server of the export and restore measures.
func startMoto() (stop func(), err error) {
	cmd := exec.Command("moto_server", "-H", "127.0.0.1", "-p", "30392")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("moto_server: %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	if err := benchkit.WaitListening("127.0.0.1:30392", 30*time.Second); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// awsS3 runs the AWS CLI's s3 command against moto_server and returns how long it took.
func awsS3(args ...string) (time.Duration, error) {
	cmd := exec.Command("aws", append([]string{"--endpoint-url", motoEndpoint, "s3"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_DEFAULT_REGION=us-east-1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("aws s3 %v: %v\n%s", args, err, out)
	}
	return time.Since(start), nil
}

// exportImport measures CopySnapshot with TargetBucket and CreateCacheCluster with SnapshotArns against the
// AWS CLI moving the same file to and from the same server.
func exportImport(ctx context.Context, c *elasticache.Client, eng, rdbFile string, rdbMB float64, bareLoad time.Duration) error {
	if _, err := awsS3("mb", "s3://bench"); err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("bench"), TargetSnapshotName: aws.String("exported"), TargetBucket: aws.String("bench")}); err != nil {
		return err
	}
	for {
		out, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("bench")})
		if err != nil {
			return err
		}
		if aws.ToString(out.Snapshots[0].SnapshotStatus) == "available" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	exportTook := time.Since(start)
	cliUpload, err := awsS3("cp", rdbFile, "s3://bench/cli.rdb")
	if err != nil {
		return err
	}
	start = time.Now()
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("from-s3"), Engine: aws.String(eng),
		CacheNodeType: aws.String("cache.r7g.large"), SnapshotArns: []string{"arn:aws:s3:::bench/exported.rdb"}}); err != nil {
		return err
	}
	addr, err := waitClusterAvailable(ctx, c, "from-s3")
	if err != nil {
		return err
	}
	importTook := time.Since(start)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	restored := rdb.DBSize(ctx).Val()
	tmp, err := os.MkdirTemp("", "bench-s3")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// One GET, as ecache does: moto_server answers the CLI's default ranged GETs of a large object slowly.
	config := filepath.Join(tmp, "config")
	if err := os.WriteFile(config, []byte("[default]\ns3 =\n  multipart_threshold = 8GB\n"), 0o600); err != nil {
		return err
	}
	os.Setenv("AWS_CONFIG_FILE", config)
	cliDownload, err := awsS3("cp", "s3://bench/cli.rdb", filepath.Join(tmp, "dump.rdb"))
	os.Unsetenv("AWS_CONFIG_FILE")
	if err != nil {
		return err
	}
	mbps := func(d time.Duration) string { return fmt.Sprintf("%.0f MB/s", rdbMB/d.Seconds()) }
	fmt.Printf("export: ecache CopySnapshot --target-bucket -> available %v (%s); aws s3 cp upload %v (%s); ratio %.2f\n",
		exportTook.Round(time.Millisecond), mbps(exportTook), cliUpload.Round(time.Millisecond), mbps(cliUpload), cliUpload.Seconds()/exportTook.Seconds())
	fmt.Printf("restore from S3: ecache CreateCacheCluster --snapshot-arns -> available %v (%d keys); aws s3 cp download %v + bare load %v; ratio %.2f\n",
		importTook.Round(time.Millisecond), restored, cliDownload.Round(time.Millisecond), bareLoad.Round(time.Millisecond), (cliDownload+bareLoad).Seconds()/importTook.Seconds())
	return nil
}

// bare starts the engine by hand on the RDB file ecache wrote (timing the load until PING answers), then
// times a BGSAVE of the same data while a client sends SETs, as during ecache's snapshot.
func bare(ctx context.Context, eng, rdbFile string) (save, load time.Duration, during []time.Duration, err error) {
	dir, err := os.MkdirTemp("", "bare-snapshot")
	if err != nil {
		return 0, 0, nil, err
	}
	defer os.RemoveAll(dir)
	b, err := os.ReadFile(rdbFile)
	if err != nil {
		return 0, 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), b, 0o600); err != nil {
		return 0, 0, nil, err
	}
	const addr = "127.0.0.1:30390"
	start := time.Now()
	p := exec.Command(eng+"-server", "--port", "30390", "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
	if err := p.Start(); err != nil {
		return 0, 0, nil, err
	}
	defer func() { p.Process.Kill(); p.Wait() }()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	for rdb.Ping(ctx).Err() != nil {
		if ctx.Err() != nil {
			return 0, 0, nil, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	load = time.Since(start)
	stop := make(chan struct{})
	probe := redis.NewClient(&redis.Options{Addr: addr})
	defer probe.Close()
	done := make(chan []time.Duration)
	go func() { done <- latencies(probe, stop) }()
	start = time.Now()
	if err := rdb.BgSave(ctx).Err(); err != nil {
		return 0, 0, nil, err
	}
	for {
		info, err := rdb.Info(ctx, "persistence").Result()
		if err != nil {
			return 0, 0, nil, err
		}
		if field(info, "rdb_bgsave_in_progress") == "0" {
			if field(info, "rdb_last_bgsave_status") != "ok" {
				return 0, 0, nil, fmt.Errorf("bare BGSAVE failed")
			}
			break
		}
		time.Sleep(time.Millisecond)
	}
	save = time.Since(start)
	close(stop)
	return save, load, <-done, nil
}

func field(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
