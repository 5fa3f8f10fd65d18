package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/awsquery"
)

// BenchmarkDescribeCacheClusters100 measures listing and rendering 100 clusters with their nodes, XML
// included.
func BenchmarkDescribeCacheClusters100(b *testing.B) {
	s, _ := newStoreService(b)
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
		out, err := s.DescribeCacheClusters(ctx, &api.DescribeCacheClustersMessage{ShowCacheNodeInfo: ptr(true)})
		if err != nil || len(out.CacheClusters) != 100 {
			b.Fatal(err)
		}
		awsquery.ResponseDocument(api.XMLNamespace, "DescribeCacheClusters", "DescribeCacheClustersResult", out, "id").Release()
	}
}
