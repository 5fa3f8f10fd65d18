package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
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

// nodeCA is a pool holding the CA that signs the node certificates of srv.
func nodeCA(t *testing.T, srv *ecacheProcess) *x509.CertPool {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(srv.dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	return pool
}

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

	pool := nodeCA(t, srv)
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

// tlsCommand sends one memcached text command over TLS and reads the reply up to a line equal to end.
func tlsCommand(t *testing.T, address string, cfg *tls.Config, cmd, end string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", address, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", address, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(b.String(), end) {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestMemcachedTransitEncryptionAndParameters runs a Memcached cluster with in-transit encryption and a
// user parameter group: discovery and data over TLS, and a parameter reaching memcached after a reboot.
func TestMemcachedTransitEncryptionAndParameters(t *testing.T) {
	requireBinary(t, "memcached")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{
		CacheParameterGroupName: aws.String("mcp"), CacheParameterGroupFamily: aws.String("memcached1.6"), Description: aws.String("mc"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String("mct"), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2),
		TransitEncryptionEnabled: aws.Bool(true), CacheParameterGroupName: aws.String("mcp"),
	}); err != nil {
		t.Fatalf("create: %v", err)
	}
	waitAvailable(t, c, "mct")
	cl := describeCluster(t, c, "mct")
	caPEM, err := os.ReadFile(filepath.Join(srv.dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}

	reply := tlsCommand(t, addr(cl.ConfigurationEndpoint), cfg, "config get cluster\r\n", "END")
	if !strings.HasPrefix(reply, "CONFIG cluster 0 ") || strings.Count(strings.Split(reply, "\n")[2], "|") != 4 {
		t.Errorf("config get cluster over TLS = %q, want two nodes", reply)
	}
	if got := tlsCommand(t, addr(cl.ConfigurationEndpoint), cfg, "set k 0 0 1\r\nv\r\n", "\r\n"); !strings.HasPrefix(got, "STORED") {
		t.Errorf("set piped through the configuration endpoint over TLS = %q", got)
	}
	for _, n := range cl.CacheNodes {
		if got := tlsCommand(t, addr(n.Endpoint), cfg, "version\r\n", "\r\n"); !strings.HasPrefix(got, "VERSION ") {
			t.Errorf("node %s over TLS: %q", aws.ToString(n.CacheNodeId), got)
		}
		if conn, err := net.DialTimeout("tcp", addr(n.Endpoint), time.Second); err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("version\r\n"))
			buf := make([]byte, 64)
			n, _ := conn.Read(buf)
			conn.Close()
			if strings.HasPrefix(string(buf[:n]), "VERSION") {
				t.Errorf("node answered a plain-text connection")
			}
		}
	}

	itemSize := func() string {
		stats := tlsCommand(t, addr(cl.CacheNodes[0].Endpoint), cfg, "stats settings\r\n", "END")
		for _, line := range strings.Split(stats, "\r\n") {
			if v, ok := strings.CutPrefix(line, "STAT item_size_max "); ok {
				return v
			}
		}
		return ""
	}
	if got := itemSize(); got != "1048576" {
		t.Errorf("item_size_max = %q, want the default 1048576", got)
	}
	if _, err := c.ModifyCacheParameterGroup(ctx, &elasticache.ModifyCacheParameterGroupInput{CacheParameterGroupName: aws.String("mcp"),
		ParameterNameValues: []types.ParameterNameValue{{ParameterName: aws.String("max_item_size"), ParameterValue: aws.String("2097152")}}}); err != nil {
		t.Fatalf("modify parameter group: %v", err)
	}
	eventually(t, 15*time.Second, "pending-reboot", func() error {
		if got := aws.ToString(describeCluster(t, c, "mct").CacheParameterGroup.ParameterApplyStatus); got != "pending-reboot" {
			return fmt.Errorf("ParameterApplyStatus %q", got)
		}
		return nil
	})
	if _, err := c.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("mct"), CacheNodeIdsToReboot: []string{"0001"}}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "mct")
	if got := itemSize(); got != "2097152" {
		t.Errorf("item_size_max after reboot = %q, want 2097152", got)
	}
}

// TestTLSNodesAtOwnAddresses: with in-transit encryption, each node of a group still listens at an address
// of its own on the Port asked for, and presents a certificate naming that address, so a client checks the
// address it dialled as it does on ElastiCache (no ServerName to pin). The PrimaryEndpoint's address moves
// to the new primary at a failover, and its certificate covers it there too. A cluster mode group's
// redirections name the nodes' own addresses, which check likewise.
func TestTLSNodesAtOwnAddresses(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token = "tls-own-address-token-0123"
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("tlsown"), ReplicationGroupDescription: aws.String("tls at own addresses"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "tlsown")
	checkOwnAddresses(t, g, 6379)
	pool := nodeCA(t, srv)
	// verified sends cmd to ep over TLS, the certificate checked for serverName ("": the address dialled).
	verified := func(ep, serverName string, cmd ...any) error {
		rc := redis.NewClient(&redis.Options{Addr: ep, Password: token, MaxRetries: -1, DialTimeout: 2 * time.Second,
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: serverName}})
		defer rc.Close()
		return rc.Do(ctx, cmd...).Err()
	}
	primaryEP := addr(g.NodeGroups[0].PrimaryEndpoint)
	var members []string
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		members = append(members, addr(m.ReadEndpoint))
	}
	if err := verified(primaryEP, "", "SET", "k", "before"); err != nil {
		t.Fatalf("the PrimaryEndpoint %s with its address checked: %v", primaryEP, err)
	}
	for _, m := range members {
		rc := redis.NewClient(&redis.Options{Addr: m, Password: token, MaxRetries: -1,
			TLSConfig: &tls.Config{RootCAs: pool}})
		if err := rc.Ping(ctx).Err(); err != nil {
			t.Errorf("member %s with its address checked: %v", m, err)
		}
		rc.Close()
	}
	// A node's certificate is its own: the other member's address is not in it.
	other, _, _ := net.SplitHostPort(members[1])
	if err := verified(members[0], other, "PING"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("member %s accepted as %s: %v", members[0], other, err)
	}

	before := aws.ToString(primaryMember(g).CacheClusterId)
	if _, err := c.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("tlsown"), NodeGroupId: aws.String("0001")}); err != nil {
		t.Fatalf("TestFailover: %v", err)
	}
	eventually(t, time.Minute, "a new primary behind the PrimaryEndpoint", func() error {
		g = waitGroupAvailable(t, c, "tlsown")
		if now := aws.ToString(primaryMember(g).CacheClusterId); now == before {
			return fmt.Errorf("primary still %s", now)
		}
		return nil
	})
	eventually(t, 10*time.Second, "a checked write at the PrimaryEndpoint after the failover", func() error {
		return verified(primaryEP, "", "SET", "k", "after")
	})

	// Cluster mode: the nodes CLUSTER SLOTS names are reached at their own addresses, checked.
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("tlsownc"), ReplicationGroupDescription: aws.String("cluster mode tls at own addresses"),
		Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(2),
		ReplicasPerNodeGroup: aws.Int32(0), CacheParameterGroupName: aws.String("default.valkey8.cluster.on"),
		TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token),
	}); err != nil {
		t.Fatal(err)
	}
	cg := waitGroupAvailable(t, c, "tlsownc")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr(cg.ConfigurationEndpoint)}, Password: token,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	defer cc.Close()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		for _, n := range s.Nodes {
			if !strings.HasPrefix(n.Addr, "127.1.") {
				t.Errorf("CLUSTER SLOTS names %s, want a node's own address", n.Addr)
				continue
			}
			if err := verified(n.Addr, "", "PING"); err != nil {
				t.Errorf("node %s named by CLUSTER SLOTS, its address checked: %v", n.Addr, err)
			}
		}
	}
	deleteGroup(t, c, "tlsownc")
	deleteGroup(t, c, "tlsown")
	if entries, err := os.ReadDir(filepath.Join(srv.dataDir, "tls", "nodes")); err == nil && len(entries) != 0 {
		t.Errorf("node certificates left after the groups were deleted: %d", len(entries))
	}
}
