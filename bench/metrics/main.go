// Command metrics measures a scrape of ecache's metrics endpoint over many cache clusters, side by side with
// the work it cannot avoid, in one run: INFO all read from every node by one client, one node after the
// other, on connections opened beforehand (what the collector does, without reading /proc, rendering or
// HTTP).
//
//	go run ./bench/metrics [-clusters 100] [-scrapes 50]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	clusters := flag.Int("clusters", 100, "single-node Valkey clusters to create")
	scrapes := flag.Int("scrapes", 50, "scrapes to time")
	flag.Parse()
	if err := run(*clusters, *scrapes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(clusters, scrapes int) error {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort())
	srv, err := benchkit.Start("33000-33499", "--metrics-listen", metricsAddr, "--max-clusters", "1000", "--max-nodes", "1000")
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Client()
	ctx := context.Background()
	start := time.Now()
	for i := range clusters {
		if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(fmt.Sprintf("m%03d", i)), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		}); err != nil {
			return err
		}
	}
	var addrs []string
	for i := range clusters {
		id := fmt.Sprintf("m%03d", i)
		w := elasticache.NewCacheClusterAvailableWaiter(c)
		if err := w.Wait(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)}, 5*time.Minute); err != nil {
			return err
		}
		out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return err
		}
		ep := out.CacheClusters[0].CacheNodes[0].Endpoint
		addrs = append(addrs, fmt.Sprintf("%s:%d", aws.ToString(ep.Address), aws.ToInt32(ep.Port)))
	}
	fmt.Printf("%d clusters available in %v\n\n", clusters, time.Since(start).Round(time.Millisecond))

	url := "http://" + metricsAddr + "/metrics"
	var scrapeTimes []time.Duration
	var size, series int
	for i := range scrapes + 1 {
		t0 := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if i > 0 { // the first scrape opens the connections
			scrapeTimes = append(scrapeTimes, time.Since(t0))
		}
		size = len(body)
		series = strings.Count(string(body), "\n") - 2*strings.Count(string(body), "\n# TYPE")
		if !strings.Contains(string(body), `CacheClusterId="m000"`) {
			return fmt.Errorf("the scrape lacks m000's metrics")
		}
	}

	conns := make([]*redis.Client, len(addrs))
	for i, a := range addrs {
		conns[i] = redis.NewClient(&redis.Options{Addr: a, PoolSize: 1})
		defer conns[i].Close()
		if err := conns[i].Ping(ctx).Err(); err != nil {
			return err
		}
	}
	var infoTimes []time.Duration
	for range scrapes {
		t0 := time.Now()
		for _, rdb := range conns {
			if err := rdb.Info(ctx, "all").Err(); err != nil {
				return err
			}
		}
		infoTimes = append(infoTimes, time.Since(t0))
	}
	p50s, p50i := benchkit.Percentile(scrapeTimes, 0.5), benchkit.Percentile(infoTimes, 0.5)
	fmt.Printf("| %d nodes, %d scrapes | p50 | p99 | max |\n|---|---|---|---|\n", clusters, scrapes)
	fmt.Printf("| GET /metrics (%d series, %d KiB) | %v | %v | %v |\n", series, size>>10, p50s.Round(10*time.Microsecond),
		benchkit.Percentile(scrapeTimes, 0.99).Round(10*time.Microsecond), benchkit.Percentile(scrapeTimes, 1).Round(10*time.Microsecond))
	fmt.Printf("| INFO all on every node, one after the other | %v | %v | %v |\n", p50i.Round(10*time.Microsecond),
		benchkit.Percentile(infoTimes, 0.99).Round(10*time.Microsecond), benchkit.Percentile(infoTimes, 1).Round(10*time.Microsecond))
	fmt.Printf("\nscrape / INFO loop at p50: %.2fx\n", float64(p50s)/float64(p50i))
	return nil
}
