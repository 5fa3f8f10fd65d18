// Command controlplane measures ecache's control plane side by side with moto_server in one run:
// time from CreateCacheCluster to available (ecache only: moto has no engines), DescribeCacheClusters
// throughput and latency with 100 clusters (the same signed request to both servers), and ecache's RSS
// with 0 and 100 clusters.
//
//	go run ./bench/controlplane [-runs 10] [-requests 2000] [-concurrency 32] [-wrk-duration 20s]
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	runs := flag.Int("runs", 10, "create-to-available runs per engine")
	requests := flag.Int("requests", 2000, "DescribeCacheClusters requests per server")
	concurrency := flag.Int("concurrency", 32, "concurrent clients")
	clusters := flag.Int("clusters", 100, "clusters to create before the Describe benchmark")
	wrkFor := flag.Duration("wrk-duration", 20*time.Second, "how long wrk replays the request to each server (when wrk is installed)")
	flag.Parse()
	if err := run(*runs, *requests, *concurrency, *clusters, *wrkFor); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func client(addr, key, secret string) *elasticache.Client {
	return (&benchkit.Server{Addr: addr, KeyID: key, Secret: secret}).Client()
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

// describeLoad sends n DescribeCacheClusters requests over conc clients.
func describeLoad(ctx context.Context, c *elasticache.Client, n, conc int) (float64, []time.Duration, error) {
	return benchkit.Load(n, conc, func() error {
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
		if err == nil && len(out.CacheClusters) == 0 {
			err = errors.New("describe returned no clusters")
		}
		return err
	})
}

// signedDescribe returns one SigV4-signed DescribeCacheClusters request, to be replayed as is.
func signedDescribe(addr, key, secret string) (http.Header, []byte, error) {
	body := []byte("Action=DescribeCacheClusters&ShowCacheNodeInfo=true&Version=2015-02-02")
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
	return benchkit.Load(n, conc, func() error {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", bytes.NewReader(body))
		req.Header = header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		size, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		case size < 1000:
			return fmt.Errorf("response of %d bytes", size)
		}
		return nil
	})
}

// compare prints the two servers' throughput and latency side by side.
func compare(title string, eThr float64, eLat []time.Duration, mThr float64, mLat []time.Duration) {
	p := func(ds []time.Duration, q float64) time.Duration {
		return benchkit.Percentile(ds, q).Round(10 * time.Microsecond)
	}
	fmt.Println(title)
	fmt.Printf("  ecache:      %8.0f req/s  p50 %v  p99 %v\n", eThr, p(eLat, 0.50), p(eLat, 0.99))
	fmt.Printf("  moto_server: %8.0f req/s  p50 %v  p99 %v\n", mThr, p(mLat, 0.50), p(mLat, 0.99))
	fmt.Printf("  ratio ecache/moto: throughput %.1fx, p99 latency %.2fx\n", eThr/mThr,
		float64(benchkit.Percentile(eLat, 0.99))/float64(benchkit.Percentile(mLat, 0.99)))
}

func run(runs, requests, conc, clusters int, wrkDur time.Duration) error {
	ctx := context.Background()
	ec, err := benchkit.Start("30000-30999")
	if err != nil {
		return err
	}
	defer ec.Stop()
	motoPort := benchkit.FreePort()
	moto := exec.Command("moto_server", "-p", strconv.Itoa(motoPort))
	if err := moto.Start(); err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	defer func() { _ = moto.Process.Kill(); _ = moto.Wait() }()
	motoAddr := fmt.Sprintf("127.0.0.1:%d", motoPort)
	if err := benchkit.WaitListening(motoAddr, 20*time.Second); err != nil {
		return err
	}
	ecc := ec.Client()
	mc := client(motoAddr, "AKIDMOTO", "secret")

	fmt.Printf("ecache RSS, 0 clusters: %d KiB\n", benchkit.RSSKiB(ec.Cmd.Process.Pid))

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
		fmt.Printf("CreateCacheCluster -> available, %s (%d runs): %s\n", tc.name, runs, benchkit.Summary(ds))
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
	fmt.Printf("ecache RSS, %d clusters: %d KiB (engines are separate processes)\n", clusters, benchkit.RSSKiB(ec.Cmd.Process.Pid))

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
	compare(fmt.Sprintf("DescribeCacheClusters, %d clusters, %d requests, %d clients:", clusters, requests, conc), eThr, eLat, mThr, mLat)

	eh, eb, err := signedDescribe(ec.Addr, ec.KeyID, ec.Secret)
	if err != nil {
		return err
	}
	mh, mb, err := signedDescribe(motoAddr, "AKIDMOTO", "secret")
	if err != nil {
		return err
	}
	eThr, eLat, err = rawLoad(ec.Addr, eh, eb, requests, conc)
	if err != nil {
		return fmt.Errorf("ecache raw describe: %w", err)
	}
	mThr, mLat, err = rawLoad(motoAddr, mh, mb, requests, conc)
	if err != nil {
		return fmt.Errorf("moto raw describe: %w", err)
	}
	compare(fmt.Sprintf("Same signed DescribeCacheClusters request replayed over HTTP (no SDK parsing), %d requests, %d clients:", requests, conc), eThr, eLat, mThr, mLat)
	if err := compareWrk(ec.Addr, eh, eb, motoAddr, mh, mb, conc, wrkDur); err != nil {
		return err
	}
	fmt.Printf("moto_server RSS, %d clusters: %d KiB\n", clusters, benchkit.RSSKiB(moto.Process.Pid))
	return nil
}
