package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// TestTransitEncryptionAndAuthToken creates a Redis cluster with in-transit encryption and an AUTH token,
// then rotates the token: both tokens work after ROTATE, only the new one after SET.
func TestTransitEncryptionAndAuthToken(t *testing.T) {
	requireBinary(t, "redis-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const first, second = "first-token-0123456789", "second-token-0123456789"
	out, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("sec"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(first),
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !aws.ToBool(out.CacheCluster.TransitEncryptionEnabled) || !aws.ToBool(out.CacheCluster.AuthTokenEnabled) {
		t.Errorf("TransitEncryptionEnabled %v, AuthTokenEnabled %v: want both true",
			aws.ToBool(out.CacheCluster.TransitEncryptionEnabled), aws.ToBool(out.CacheCluster.AuthTokenEnabled))
	}
	if out.CacheCluster.TransitEncryptionMode != types.TransitEncryptionModeRequired {
		t.Errorf("TransitEncryptionMode = %q, want required", out.CacheCluster.TransitEncryptionMode)
	}
	waitAvailable(t, c, "sec")
	cl := describeCluster(t, c, "sec")
	address := addr(cl.CacheNodes[0].Endpoint)

	caPEM, err := os.ReadFile(filepath.Join(srv.dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := func(password string) *redis.Client {
		rc := redis.NewClient(&redis.Options{Addr: address, Password: password, MaxRetries: -1,
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
		t.Cleanup(func() { rc.Close() })
		return rc
	}
	if err := client(first).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET over TLS with the AUTH token: %v", err)
	}
	if err := client("wrong-token-0123456789").Ping(ctx).Err(); err == nil {
		t.Error("a wrong AUTH token was accepted")
	}
	plain := redis.NewClient(&redis.Options{Addr: address, Password: first, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("a connection without TLS was served")
	}

	// ROTATE: both tokens work, the data stays.
	mod, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("sec"), AuthToken: aws.String(second),
		AuthTokenUpdateStrategy: types.AuthTokenUpdateStrategyTypeRotate, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if got := mod.CacheCluster.PendingModifiedValues.AuthTokenStatus; got != types.AuthTokenUpdateStatusRotating {
		t.Errorf("pending AuthTokenStatus = %q, want ROTATING", got)
	}
	waitAvailable(t, c, "sec")
	for _, tok := range []string{first, second} {
		if v, err := client(tok).Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Errorf("after ROTATE, token %q: GET k = %q, %v", tok[:5], v, err)
		}
	}
	// SET: only the new token works.
	if _, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("sec"), AuthToken: aws.String(second),
		AuthTokenUpdateStrategy: types.AuthTokenUpdateStrategyTypeSet, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("set: %v", err)
	}
	waitAvailable(t, c, "sec")
	if err := client(first).Ping(ctx).Err(); err == nil {
		t.Error("the old token still works after SET")
	}
	if v, err := client(second).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("after SET: GET k = %q, %v", v, err)
	}
	// SET without a ROTATE before it, and DELETE, are refused.
	for _, strategy := range []types.AuthTokenUpdateStrategyType{types.AuthTokenUpdateStrategyTypeSet, types.AuthTokenUpdateStrategyTypeDelete} {
		_, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("sec"), AuthToken: aws.String("third-token-0123456789"),
			AuthTokenUpdateStrategy: strategy, ApplyImmediately: aws.Bool(true)})
		if err == nil || !strings.Contains(err.Error(), "InvalidParameterCombination") {
			t.Errorf("strategy %s: err = %v, want InvalidParameterCombination", strategy, err)
		}
	}
}
