package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/awsquery"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/store"
)

// BenchmarkDescribeCacheClusters100 measures listing and rendering 100 clusters, XML included.
func BenchmarkDescribeCacheClusters100(b *testing.B) {
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	host := engine.NewHost(engine.Binary{Engine: "redis", Path: "/usr/bin/redis-server", Version: "7.0.15"})
	s := New(st, host, Config{AccountID: "123456789012", NodeHost: "127.0.0.1", PortLow: 40000, PortHigh: 40999, Quotas: DefaultQuotas()},
		time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	for i := range 100 {
		_, err := s.CreateCacheCluster(ctx, &api.CreateCacheClusterMessage{CacheClusterId: ptr(fmt.Sprintf("c%03d", i)),
			Engine: ptr("redis"), CacheNodeType: ptr("cache.t3.micro")})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		out, err := s.DescribeCacheClusters(ctx, &api.DescribeCacheClustersMessage{})
		if err != nil || len(out.CacheClusters) != 100 {
			b.Fatal(err)
		}
		_ = awsquery.ResponseDocument(api.XMLNamespace, "DescribeCacheClusters", "DescribeCacheClustersResult", out, "id")
	}
}
