package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// TestTransitEncryptionMigration takes a plain replication group to in-transit encryption and back, in
// ElastiCache's two steps each way: while preferred, every endpoint takes TLS and plain clients; required
// takes TLS only; disabled plain only. The data and replication survive every step, and no write that a
// client saw acknowledged while the nodes restarted is lost.
func TestTransitEncryptionMigration(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("tr"),
		ReplicationGroupDescription: aws.String("tr"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "tr")
	primaryAddr, readerAddr := addr(g.NodeGroups[0].PrimaryEndpoint), addr(g.NodeGroups[0].ReaderEndpoint)
	tlsConfig := &tls.Config{RootCAs: nodeCA(t, srv), ServerName: "127.0.0.1"}
	// answers reports whether a client (plain, or TLS with cfg) gets a PONG at address.
	answers := func(address string, cfg *tls.Config) bool {
		var conn net.Conn
		var err error
		d := &net.Dialer{Timeout: time.Second}
		if cfg != nil {
			conn, err = tls.DialWithDialer(d, "tcp", address, cfg)
		} else {
			conn, err = d.Dial("tcp", address)
		}
		if err != nil {
			return false
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 7)
		_, err = conn.Write([]byte("PING\r\n"))
		if err == nil {
			_, err = io.ReadFull(conn, buf)
		}
		return err == nil && string(buf) == "+PONG\r\n"
	}
	modify := func(enabled *bool, mode string) error {
		in := &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("tr"), TransitEncryptionEnabled: enabled, ApplyImmediately: aws.Bool(true)}
		if mode != "" {
			in.TransitEncryptionMode = types.TransitEncryptionMode(mode)
		}
		_, err := c.ModifyReplicationGroup(ctx, in)
		return err
	}
	// step makes one change and waits for it; want is the mode reported afterwards ("" for disabled).
	step := func(enabled *bool, mode, want string) types.ReplicationGroup {
		t.Helper()
		if err := modify(enabled, mode); err != nil {
			t.Fatalf("to %q: %v", want, err)
		}
		var g types.ReplicationGroup
		eventually(t, 2*time.Minute, "the group at "+want, func() error {
			d, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("tr")})
			if err != nil {
				return err
			}
			g = d.ReplicationGroups[0]
			if aws.ToString(g.Status) != "available" || string(g.TransitEncryptionMode) != want {
				return fmt.Errorf("group %s with mode %q", aws.ToString(g.Status), g.TransitEncryptionMode)
			}
			return nil
		})
		for _, id := range g.MemberClusters {
			if m := describeCluster(t, c, id); aws.ToBool(m.TransitEncryptionEnabled) != (want != "") || string(m.TransitEncryptionMode) != want {
				t.Errorf("member %s: encryption %v mode %q, want the group's %q", id, aws.ToBool(m.TransitEncryptionEnabled), m.TransitEncryptionMode, want)
			}
		}
		return g
	}
	// check asserts which clients every endpoint takes, and that the data is there and replicated.
	check := func(plain, withTLS bool, keys int) {
		t.Helper()
		for _, a := range []string{primaryAddr, readerAddr} {
			if got := answers(a, nil); got != plain {
				t.Errorf("plain client at %s answered: %v, want %v", a, got, plain)
			}
			if got := answers(a, tlsConfig); got != withTLS {
				t.Errorf("TLS client at %s answered: %v, want %v", a, got, withTLS)
			}
		}
		var cfg *tls.Config
		if !plain {
			cfg = tlsConfig
		}
		rdb := redis.NewClient(&redis.Options{Addr: primaryAddr, TLSConfig: cfg})
		defer rdb.Close()
		for i := range keys {
			if v, err := rdb.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
				t.Fatalf("k%d = %d, %v", i, v, err)
			}
		}
		if err := rdb.Set(ctx, "probe", time.Now().String(), 0).Err(); err != nil {
			t.Fatal(err)
		}
		want, _ := rdb.Get(ctx, "probe").Result()
		reader := redis.NewClient(&redis.Options{Addr: readerAddr, TLSConfig: cfg})
		defer reader.Close()
		eventually(t, 10*time.Second, "the replica in sync", func() error {
			if v, err := reader.Get(ctx, "probe").Result(); v != want {
				return fmt.Errorf("replica has probe %q, %v", v, err)
			}
			return nil
		})
	}

	plainClient := redis.NewClient(&redis.Options{Addr: primaryAddr})
	defer plainClient.Close()
	for i := range 300 {
		if err := plainClient.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct {
		name    string
		enabled *bool
		mode    string
	}{
		{"required without preferred first", aws.Bool(true), "required"},
		{"enabled without a mode", aws.Bool(true), ""},
		{"a mode that does not exist", aws.Bool(true), "sometimes"},
	} {
		if err := modify(r.enabled, r.mode); err == nil {
			t.Errorf("%s: accepted", r.name)
		}
	}
	check(true, false, 300)

	w := startKeyWriter(plainClient, "during", 2)
	g = step(aws.Bool(true), "preferred", "preferred")
	w.stop(t, plainClient)
	check(true, true, 300)
	// Back, and forth again.
	step(aws.Bool(false), "", "")
	check(true, false, 300)
	step(aws.Bool(true), "preferred", "preferred")

	step(nil, "required", "required")
	check(false, true, 300)
	if err := modify(aws.Bool(false), ""); err == nil {
		t.Error("required straight to disabled: accepted")
	}
	step(nil, "preferred", "preferred")
	check(true, true, 300)
	step(aws.Bool(false), "", "")
	check(true, false, 300)
}

// TestTransitPreferredAtCreate creates a cluster mode enabled group in TransitEncryptionMode preferred:
// cluster clients work through the configuration endpoint with TLS and without, on the same data.
func TestTransitPreferredAtCreate(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	_, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("nope"),
		ReplicationGroupDescription: aws.String("nope"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"),
		NumNodeGroups: aws.Int32(2), TransitEncryptionMode: types.TransitEncryptionModePreferred})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("a mode without TransitEncryptionEnabled: %v, want InvalidParameterCombination", err)
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("pref"),
		ReplicationGroupDescription: aws.String("pref"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true),
		TransitEncryptionMode: types.TransitEncryptionModePreferred}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "pref")
	if g.TransitEncryptionMode != types.TransitEncryptionModePreferred || !aws.ToBool(g.TransitEncryptionEnabled) {
		t.Errorf("group reports encryption %v mode %q, want preferred", aws.ToBool(g.TransitEncryptionEnabled), g.TransitEncryptionMode)
	}
	plain := clusterClient(addr(g.ConfigurationEndpoint))
	defer plain.Close()
	writeClusterKeys(t, plain, "p", 200)
	secure := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr(g.ConfigurationEndpoint)},
		TLSConfig: &tls.Config{RootCAs: nodeCA(t, srv), ServerName: "127.0.0.1"}})
	defer secure.Close()
	if err := checkClusterKeys(secure, "p", 200); err != nil {
		t.Errorf("TLS cluster client: %v", err)
	}
	_, err = c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("pref"),
		TransitEncryptionMode: types.TransitEncryptionModeRequired, ApplyImmediately: aws.Bool(true)})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("changing the encryption of a cluster mode enabled group: %v, want InvalidParameterCombination (not available here)", err)
	}
}
