package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/internal/service"
)

// requireIPv6 skips a test on a host without IPv6 loopback.
func requireIPv6(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback on this host")
	}
	l.Close()
}

// reachable reports whether a TCP connection to addr is accepted.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestNetworkTypes runs an IPv6-only cluster, a dual stack replication group discovered by IPv6 and then
// by IPv4, and a dual stack Memcached cluster: the engines listen on the loopbacks of their network type,
// and every endpoint reports (and answers at) the address of the discovery family.
func TestNetworkTypes(t *testing.T) {
	requireBinary(t, "redis-server", "valkey-server", "memcached")
	requireIPv6(t)
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)

	sg, err := c.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{CacheSubnetGroupName: aws.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	if got := sg.CacheSubnetGroups[0].SupportedNetworkTypes; fmt.Sprint(got) != "[ipv4 ipv6 dual_stack]" {
		t.Errorf("default subnet group supports %v", got)
	}

	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("six"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NetworkType: "ipv6"}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "six")
	six := describeCluster(t, c, "six")
	if six.NetworkType != "ipv6" || six.IpDiscovery != "ipv6" {
		t.Errorf("ipv6 cluster reports NetworkType %s, IpDiscovery %s", six.NetworkType, six.IpDiscovery)
	}
	ep := six.CacheNodes[0].Endpoint
	if aws.ToString(ep.Address) != "::1" {
		t.Errorf("ipv6 node endpoint address %q, want ::1", aws.ToString(ep.Address))
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr(ep)})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Errorf("SET over IPv6: %v", err)
	}
	if reachable(fmt.Sprintf("127.0.0.1:%d", aws.ToInt32(ep.Port))) {
		t.Error("an ipv6 node also accepts IPv4 connections")
	}

	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("dual"),
		ReplicationGroupDescription: aws.String("dual"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), NetworkType: "dual_stack", IpDiscovery: "ipv6"}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "dual")
	primaryEP := g.NodeGroups[0].PrimaryEndpoint
	if aws.ToString(primaryEP.Address) != "::1" || aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address) != "::1" {
		t.Errorf("dual stack group discovered by IPv6: primary %q, reader %q", aws.ToString(primaryEP.Address), aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address))
	}
	primary := redis.NewClient(&redis.Options{Addr: addr(primaryEP)})
	defer primary.Close()
	if err := primary.Set(ctx, "dual", "1", 0).Err(); err != nil {
		t.Fatalf("SET through the IPv6 primary endpoint: %v", err)
	}
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		port := aws.ToInt32(m.ReadEndpoint.Port)
		if !reachable(fmt.Sprintf("127.0.0.1:%d", port)) || !reachable(fmt.Sprintf("[::1]:%d", port)) {
			t.Errorf("dual stack member %s does not listen on both loopbacks", aws.ToString(m.CacheClusterId))
		}
	}
	replica := describeCluster(t, c, "dual-002")
	rep := redis.NewClient(&redis.Options{Addr: addr(replica.CacheNodes[0].Endpoint)})
	defer rep.Close()
	eventually(t, 10*time.Second, "the replica follows its primary over IPv6", func() error {
		info, _ := rep.Info(ctx, "replication").Result()
		if !strings.Contains(info, "master_host:::1") || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica replication info:\n%s", info)
		}
		return nil
	})

	// IpDiscovery back to IPv4: the same engines, endpoints now at the IPv4 address.
	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("dual"),
		IpDiscovery: "ipv4", ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the primary endpoint at the IPv4 address", func() error {
		d, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("dual")})
		if err != nil {
			return err
		}
		pe := d.ReplicationGroups[0].NodeGroups[0].PrimaryEndpoint
		if aws.ToString(pe.Address) != "127.0.0.1" {
			return fmt.Errorf("primary endpoint %q", aws.ToString(pe.Address))
		}
		v4 := redis.NewClient(&redis.Options{Addr: addr(pe), MaxRetries: -1})
		defer v4.Close()
		if v, err := v4.Get(ctx, "dual").Result(); v != "1" {
			return fmt.Errorf("GET through the IPv4 primary endpoint = %q, %v", v, err)
		}
		return nil
	})
	eventually(t, 10*time.Second, "the replica follows its primary over IPv4", func() error {
		info, _ := rep.Info(ctx, "replication").Result()
		if !strings.Contains(info, "master_host:127.0.0.1") || !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("replica replication info:\n%s", info)
		}
		return nil
	})

	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("mc6"), Engine: aws.String("memcached"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2), NetworkType: "dual_stack", IpDiscovery: "ipv6"}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "mc6")
	mc := describeCluster(t, c, "mc6")
	if aws.ToString(mc.ConfigurationEndpoint.Address) != "::1" {
		t.Errorf("memcached configuration endpoint address %q, want ::1", aws.ToString(mc.ConfigurationEndpoint.Address))
	}
	conn, err := net.DialTimeout("tcp", addr(mc.ConfigurationEndpoint), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "config get cluster\r\n")
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if got := string(buf[:n]); strings.Count(got, "::1|::1|") != 2 {
		t.Errorf("auto discovery over IPv6 lists %q, want both nodes at ::1", got)
	}
}

// TestNetworkTypeRules: network types and discovery families ElastiCache refuses are refused.
func TestNetworkTypeRules(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	c := p.client
	if _, err := c.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("v4") })); err != nil {
		t.Fatal(err)
	}
	markAvailable(t, p.store, "v4")
	create := func(mod func(*elasticache.CreateCacheClusterInput)) func() error {
		return func() error { _, err := c.CreateCacheCluster(ctx, redisReq(mod)); return err }
	}
	runRules(t, p.store, []rule{
		{"an unknown network type", create(func(in *elasticache.CreateCacheClusterInput) { in.NetworkType = "ipv5" }), "InvalidParameterValue", 400},
		{"an unknown discovery family", create(func(in *elasticache.CreateCacheClusterInput) { in.NetworkType, in.IpDiscovery = "dual_stack", "ipx" }), "InvalidParameterValue", 400},
		{"IPv6 discovery of an IPv4 network", create(func(in *elasticache.CreateCacheClusterInput) { in.IpDiscovery = "ipv6" }), "InvalidParameterCombination", 400},
		{"IPv4 discovery of an IPv6 network", create(func(in *elasticache.CreateCacheClusterInput) { in.NetworkType, in.IpDiscovery = "ipv6", "ipv4" }), "InvalidParameterCombination", 400},
		{"IPv6 on a node type not built on Nitro", create(func(in *elasticache.CreateCacheClusterInput) {
			in.NetworkType, in.CacheNodeType = "dual_stack", aws.String("cache.m4.large")
		}), "InvalidParameterCombination", 400},
		{"IpDiscovery ipv6 for an IPv4 cluster", func() error {
			_, err := c.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("v4"), IpDiscovery: "ipv6"})
			return err
		}, "InvalidParameterCombination", 400},
	})
}

// TestShardedDualStack: a cluster mode enabled dual stack group tells cluster clients the addresses of its
// discovery family, and tells them the other family's once IpDiscovery changes.
func TestShardedDualStack(t *testing.T) {
	requireBinary(t, "valkey-server")
	requireIPv6(t)
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("cds"),
		ReplicationGroupDescription: aws.String("cds"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), NetworkType: "dual_stack", IpDiscovery: "ipv6"}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "cds")
	if aws.ToString(g.ConfigurationEndpoint.Address) != "::1" {
		t.Errorf("configuration endpoint %q, want ::1", aws.ToString(g.ConfigurationEndpoint.Address))
	}
	hosts := func(want string) error {
		rdb := redis.NewClient(&redis.Options{Addr: addr(g.ConfigurationEndpoint)})
		defer rdb.Close()
		slots, err := rdb.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		for _, s := range slots {
			for _, n := range s.Nodes {
				if host, _, _ := net.SplitHostPort(n.Addr); host != want {
					return fmt.Errorf("CLUSTER SLOTS lists %s, want every node at %s", n.Addr, want)
				}
			}
		}
		return nil
	}
	eventually(t, 10*time.Second, "cluster nodes announced at ::1", func() error { return hosts("::1") })
	cc := clusterClient(addr(g.ConfigurationEndpoint))
	defer cc.Close()
	writeClusterKeys(t, cc, "six", 100)

	if _, err := c.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("cds"),
		IpDiscovery: "ipv4", ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the configuration endpoint at 127.0.0.1", func() error {
		d, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("cds")})
		if err != nil {
			return err
		}
		if g = d.ReplicationGroups[0]; aws.ToString(g.ConfigurationEndpoint.Address) != "127.0.0.1" {
			return fmt.Errorf("configuration endpoint %q", aws.ToString(g.ConfigurationEndpoint.Address))
		}
		return hosts("127.0.0.1")
	})
	v4 := clusterClient(addr(g.ConfigurationEndpoint))
	defer v4.Close()
	if err := checkClusterKeys(v4, "six", 100); err != nil {
		t.Error(err)
	}
}
