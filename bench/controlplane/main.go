// Command controlplane measures ecache's control plane side by side with moto_server in one run:
// time from CreateCacheCluster to available (ecache only: moto has no engines), DescribeCacheClusters
// throughput and latency with 100 clusters (the same signed request to both servers), and ecache's RSS
// with 0 and 100 clusters.
//
//	go run ./bench/controlplane [-runs 10] [-requests 2000] [-concurrency 8]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

func main() {
	runs := flag.Int("runs", 10, "create-to-available runs per engine")
	requests := flag.Int("requests", 2000, "DescribeCacheClusters requests per server")
	concurrency := flag.Int("concurrency", 8, "concurrent clients")
	clusters := flag.Int("clusters", 100, "clusters to create before the Describe benchmark")
	flag.Parse()
	if err := run(*runs, *requests, *concurrency, *clusters); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string, d time.Duration) error {
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

type ecacheProc struct {
	cmd           *exec.Cmd
	addr, dir     string
	keyID, secret string
}

func startEcache() (*ecacheProc, error) {
	dir, err := os.MkdirTemp("", "ecache-bench")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "ecache")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ecache/ecache/cmd/ecache").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	p := &ecacheProc{addr: fmt.Sprintf("127.0.0.1:%d", freePort()), dir: dir}
	p.cmd = exec.Command(bin, "serve", "--listen", p.addr, "--data-dir", filepath.Join(dir, "data"), "--node-ports", "30000-30999", "--log-level", "warn")
	p.cmd.Stderr, _ = os.Create(filepath.Join(dir, "ecache.log"))
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (p.keyID == "" || p.secret == "") {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "AWS_ACCESS_KEY_ID="); ok {
			p.keyID = v
		}
		if v, ok := strings.CutPrefix(line, "AWS_SECRET_ACCESS_KEY="); ok {
			p.secret = v
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return p, waitListening(p.addr, 10*time.Second)
}

// stop ends ecache and the engines it started, printing what ecache logged at warn level or above.
func (p *ecacheProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	if b, _ := os.ReadFile(filepath.Join(p.dir, "ecache.log")); len(b) > 0 {
		fmt.Printf("ecache log:\n%s", b)
	}
	files, _ := filepath.Glob(filepath.Join(p.dir, "data", "nodes", "*", "*.pid"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	out, _ := exec.Command("pgrep", "-f", p.dir).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.RemoveAll(p.dir)
}

func rssKiB(pid int) int {
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

func client(addr, key, secret string) *elasticache.Client {
	return elasticache.New(elasticache.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
	})
}

// timeToAvailable creates a cluster, polls until it is available and deletes it.
func timeToAvailable(ctx context.Context, c *elasticache.Client, in *elasticache.CreateCacheClusterInput) (time.Duration, error) {
	start := time.Now()
	if _, err := c.CreateCacheCluster(ctx, in); err != nil {
		return 0, err
	}
	for {
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: in.CacheClusterId})
		if err != nil {
			return 0, err
		}
		if aws.ToString(out.CacheClusters[0].CacheClusterStatus) == "available" {
			d := time.Since(start)
			_, err := c.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: in.CacheClusterId})
			return d, err
		}
		if time.Since(start) > 30*time.Second {
			return 0, errors.New("cluster did not become available")
		}
		time.Sleep(time.Millisecond)
	}
}

func summary(ds []time.Duration) string {
	slices.Sort(ds)
	return fmt.Sprintf("min %v  median %v  max %v", ds[0].Round(100*time.Microsecond), ds[len(ds)/2].Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
}

// describeLoad sends n DescribeCacheClusters requests over conc clients; it returns throughput and latencies.
func describeLoad(ctx context.Context, c *elasticache.Client, n, conc int) (float64, []time.Duration, error) {
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t := time.Now()
				out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
				d := time.Since(t)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil && len(out.CacheClusters) == 0 {
					firstErr = errors.New("describe returned no clusters")
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), lat, firstErr
}

// signedDescribe returns one SigV4-signed DescribeCacheClusters request, to be replayed as is.
func signedDescribe(addr, key, secret string) (http.Header, []byte, error) {
	body := []byte("Action=DescribeCacheClusters&Version=2015-02-02")
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "elasticache", "us-east-1", time.Now())
	return req.Header, body, err
}

// rawLoad replays one signed request n times over conc connections, reading each response in full.
func rawLoad(addr string, header http.Header, body []byte, n, conc int) (float64, []time.Duration, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
				req.Header = header.Clone()
				t := time.Now()
				resp, err := hc.Do(req)
				var size int64
				if err == nil {
					size, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				d := time.Since(t)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil && size < 1000 {
					firstErr = fmt.Errorf("response of %d bytes", size)
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), lat, firstErr
}

func pct(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

func run(runs, requests, conc, clusters int) error {
	ctx := context.Background()
	ec, err := startEcache()
	if err != nil {
		return err
	}
	defer ec.stop()
	motoPort := freePort()
	moto := exec.Command("moto_server", "-p", strconv.Itoa(motoPort))
	if err := moto.Start(); err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	defer func() { _ = moto.Process.Kill(); _ = moto.Wait() }()
	motoAddr := fmt.Sprintf("127.0.0.1:%d", motoPort)
	if err := waitListening(motoAddr, 20*time.Second); err != nil {
		return err
	}
	ecc := client(ec.addr, ec.keyID, ec.secret)
	mc := client(motoAddr, "AKIDMOTO", "secret")

	fmt.Printf("ecache RSS, 0 clusters: %d KiB\n", rssKiB(ec.cmd.Process.Pid))

	for _, tc := range []struct {
		name string
		in   func(i int) *elasticache.CreateCacheClusterInput
	}{
		{"redis, 1 node", func(i int) *elasticache.CreateCacheClusterInput {
			return &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(fmt.Sprintf("r%d", i)), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}
		}},
		{"memcached, 3 nodes", func(i int) *elasticache.CreateCacheClusterInput {
			return &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(fmt.Sprintf("m%d", i)), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(3)}
		}},
	} {
		var ds []time.Duration
		for i := range runs {
			d, err := timeToAvailable(ctx, ecc, tc.in(i))
			if err != nil {
				return fmt.Errorf("%s: %w", tc.name, err)
			}
			ds = append(ds, d)
		}
		fmt.Printf("CreateCacheCluster -> available, %s (%d runs): %s\n", tc.name, runs, summary(ds))
	}
	time.Sleep(3 * time.Second) // let the deletions finish

	for i := range clusters {
		in := &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(fmt.Sprintf("load-%03d", i)), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}
		if _, err := ecc.CreateCacheCluster(ctx, in); err != nil {
			return fmt.Errorf("ecache create: %w", err)
		}
		if _, err := mc.CreateCacheCluster(ctx, in); err != nil {
			return fmt.Errorf("moto create: %w", err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := ecc.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err != nil {
			return err
		}
		ready := 0
		for _, c := range out.CacheClusters {
			if aws.ToString(c.CacheClusterStatus) == "available" {
				ready++
			}
		}
		if ready == len(out.CacheClusters) && ready == min(clusters, 100) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d clusters available", ready, clusters)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	fmt.Printf("ecache RSS, %d clusters: %d KiB (engines are separate processes)\n", clusters, rssKiB(ec.cmd.Process.Pid))

	// Warm up both, then measure each in turn.
	_, _, _ = describeLoad(ctx, ecc, 100, conc)
	_, _, _ = describeLoad(ctx, mc, 100, conc)
	eThr, eLat, err := describeLoad(ctx, ecc, requests, conc)
	if err != nil {
		return fmt.Errorf("ecache describe: %w", err)
	}
	mThr, mLat, err := describeLoad(ctx, mc, requests, conc)
	if err != nil {
		return fmt.Errorf("moto describe: %w", err)
	}
	fmt.Printf("DescribeCacheClusters, %d clusters, %d requests, %d clients:\n", clusters, requests, conc)
	fmt.Printf("  ecache:      %8.0f req/s  p50 %v  p99 %v\n", eThr, pct(eLat, 0.50).Round(10*time.Microsecond), pct(eLat, 0.99).Round(10*time.Microsecond))
	fmt.Printf("  moto_server: %8.0f req/s  p50 %v  p99 %v\n", mThr, pct(mLat, 0.50).Round(10*time.Microsecond), pct(mLat, 0.99).Round(10*time.Microsecond))
	fmt.Printf("  ratio ecache/moto: throughput %.1fx, p99 latency %.2fx\n", eThr/mThr, float64(pct(eLat, 0.99))/float64(pct(mLat, 0.99)))

	eh, eb, err := signedDescribe(ec.addr, ec.keyID, ec.secret)
	if err != nil {
		return err
	}
	mh, mb, err := signedDescribe(motoAddr, "AKIDMOTO", "secret")
	if err != nil {
		return err
	}
	eThr, eLat, err = rawLoad(ec.addr, eh, eb, requests, conc)
	if err != nil {
		return fmt.Errorf("ecache raw describe: %w", err)
	}
	mThr, mLat, err = rawLoad(motoAddr, mh, mb, requests, conc)
	if err != nil {
		return fmt.Errorf("moto raw describe: %w", err)
	}
	fmt.Printf("Same signed DescribeCacheClusters request replayed over HTTP (no SDK parsing), %d requests, %d clients:\n", requests, conc)
	fmt.Printf("  ecache:      %8.0f req/s  p50 %v  p99 %v\n", eThr, pct(eLat, 0.50).Round(10*time.Microsecond), pct(eLat, 0.99).Round(10*time.Microsecond))
	fmt.Printf("  moto_server: %8.0f req/s  p50 %v  p99 %v\n", mThr, pct(mLat, 0.50).Round(10*time.Microsecond), pct(mLat, 0.99).Round(10*time.Microsecond))
	fmt.Printf("  ratio ecache/moto: throughput %.1fx, p99 latency %.2fx\n", eThr/mThr, float64(pct(eLat, 0.99))/float64(pct(mLat, 0.99)))
	fmt.Printf("moto_server RSS, %d clusters: %d KiB\n", clusters, rssKiB(moto.Process.Pid))
	return nil
}
