// Command rbac measures role-based access control on real engines, in one run:
//
//   - how long a ModifyUser takes to be enforced on every node of a 3-shard x 2 cluster mode group (each
//     node polled with ACL GETUSER until it shows the new rules), and to show active again;
//
//   - SET/GET throughput (redis-benchmark over TLS) as an ACL user with a key pattern and as the default
//     user, on the same node, alternated, as a ratio.
//
//     go run ./bench/rbac [-changes 10] [-requests 200000] [-rounds 3]
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
	"github.com/ecache/ecache/internal/certs"
)

const password = "bench-user-password-0123"

func main() {
	changes := flag.Int("changes", 10, "ModifyUser calls to time")
	requests := flag.Int("requests", 200000, "redis-benchmark requests per run")
	rounds := flag.Int("rounds", 3, "throughput runs per user, alternated")
	flag.Parse()
	if err := run(*changes, *requests, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(changes, requests, rounds int) error {
	srv, err := benchkit.Start("30500-30599")
	if err != nil {
		return err
	}
	defer srv.Stop()
	c := srv.Client()
	ctx := context.Background()
	if _, err := c.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("app"), UserName: aws.String("app"), Engine: aws.String("valkey"),
		Passwords: []string{password}, AccessString: aws.String("on ~key:* ~counter:* +@all -@dangerous")}); err != nil {
		return err
	}
	if _, err := c.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("bench"), Engine: aws.String("valkey"),
		UserIds: []string{"default", "app"}}); err != nil {
		return err
	}
	if err := waitFor(60*time.Second, func() (bool, error) {
		out, err := c.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("bench")})
		return err == nil && aws.ToString(out.UserGroups[0].Status) == "active", err
	}); err != nil {
		return err
	}
	caFile := filepath.Join(srv.Dir, "data", "tls", "ca.pem")
	nodeTLS, err := certs.ClientConfig(caFile, "") // each node's certificate names its own address
	if err != nil {
		return err
	}
	if err := enforcement(ctx, c, nodeTLS, changes); err != nil {
		return err
	}
	return throughput(ctx, c, caFile, requests, rounds)
}

// enforcement times ModifyUser until every node of a 3 x 2 group shows the new rules, and until the user
// is active again.
func enforcement(ctx context.Context, c *elasticache.Client, nodeTLS *tls.Config, changes int) error {
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("shards"), ReplicationGroupDescription: aws.String("rbac bench"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
		CacheParameterGroupName: aws.String("default.valkey8.cluster.on"), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"bench"},
	}); err != nil {
		return err
	}
	if err := waitAvailable(ctx, c, "shards"); err != nil {
		return err
	}
	nodes, err := nodeClients(ctx, c, "shards-", nodeTLS)
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	var toNodes, toActive []time.Duration
	for i := range changes {
		rule := fmt.Sprintf("~bench%d:*", i)
		start := time.Now()
		if _, err := c.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String("app"),
			AccessString: aws.String("on ~key:* ~counter:* " + rule + " +@all -@dangerous")}); err != nil {
			return err
		}
		if err := waitFor(30*time.Second, func() (bool, error) { return allShow(ctx, nodes, rule), nil }); err != nil {
			return fmt.Errorf("%s on every node: %w", rule, err)
		}
		toNodes = append(toNodes, time.Since(start))
		if err := waitFor(30*time.Second, func() (bool, error) {
			out, err := c.DescribeUsers(ctx, &elasticache.DescribeUsersInput{UserId: aws.String("app")})
			return err == nil && aws.ToString(out.Users[0].Status) == "active", err
		}); err != nil {
			return fmt.Errorf("app active again: %w", err)
		}
		toActive = append(toActive, time.Since(start))
	}
	fmt.Printf("ModifyUser on a 3 x 2 cluster mode group (%d changes):\n", changes)
	fmt.Printf("  enforced on all 6 nodes: %s\n", benchkit.Summary(toNodes))
	fmt.Printf("  user active again:       %s\n\n", benchkit.Summary(toActive))
	return nil
}

// allShow reports whether every node lists rule among app's key patterns.
func allShow(ctx context.Context, nodes []*redis.Client, rule string) bool {
	for _, n := range nodes {
		v, err := n.Do(ctx, "ACL", "GETUSER", "app").Result() // a map in RESP3
		if err != nil || !strings.Contains(fmt.Sprint(v), rule) {
			return false
		}
	}
	return true
}

// nodeClients are clients of every node of the clusters whose id starts with prefix, as the default user.
func nodeClients(ctx context.Context, c *elasticache.Client, prefix string, nodeTLS *tls.Config) ([]*redis.Client, error) {
	out, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	var clients []*redis.Client
	for _, cl := range out.CacheClusters {
		if !strings.HasPrefix(aws.ToString(cl.CacheClusterId), prefix) {
			continue
		}
		ep := cl.CacheNodes[0].Endpoint
		clients = append(clients, redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", aws.ToString(ep.Address), aws.ToInt32(ep.Port)),
			TLSConfig: nodeTLS, MaxRetries: -1}))
	}
	return clients, nil
}

// throughput runs redis-benchmark against the one node of a group as app and as the default user.
func throughput(ctx context.Context, c *elasticache.Client, caFile string, requests, rounds int) error {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		fmt.Println("redis-benchmark not installed: throughput skipped")
		return nil
	}
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("one"), ReplicationGroupDescription: aws.String("rbac bench"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"bench"},
	}); err != nil {
		return err
	}
	if err := waitAvailable(ctx, c, "one"); err != nil {
		return err
	}
	g, err := benchkit.Group(ctx, c, "one")
	if err != nil {
		return err
	}
	ep := g.NodeGroups[0].NodeGroupMembers[0].ReadEndpoint
	host, port := aws.ToString(ep.Address), strconv.Itoa(int(aws.ToInt32(ep.Port)))
	users := []struct{ name, args string }{{"default user", ""}, {"ACL user app (~key:* ~counter:* +@all -@dangerous)", "--user app -a " + password}}
	rps := map[string][]float64{}
	for r := range rounds {
		for _, u := range users {
			args := strings.Fields(fmt.Sprintf("-h %s -p %s --tls --cacert %s -t set,get -n %d -c 32 -q %s", host, port, caFile, requests, u.args))
			out, err := exec.Command("redis-benchmark", args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("redis-benchmark (%s, round %d): %v\n%s", u.name, r, err, out)
			}
			for _, m := range regexp.MustCompile(`(SET|GET): ([0-9.]+) requests per second`).FindAllStringSubmatch(string(out), -1) {
				v, _ := strconv.ParseFloat(m[2], 64)
				rps[u.name+" "+m[1]] = append(rps[u.name+" "+m[1]], v)
			}
		}
	}
	fmt.Printf("redis-benchmark over TLS, one node, -c 32, -n %d, %d rounds alternated (median requests/s):\n", requests, rounds)
	for _, cmd := range []string{"SET", "GET"} {
		def, acl := median(rps[users[0].name+" "+cmd]), median(rps[users[1].name+" "+cmd])
		fmt.Printf("  %s: default user %.0f, %s %.0f, ratio %.3f\n", cmd, def, users[1].name, acl, acl/def)
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func waitAvailable(ctx context.Context, c *elasticache.Client, id string) error {
	return waitFor(5*time.Minute, func() (bool, error) {
		g, err := benchkit.Group(ctx, c, id)
		return err == nil && aws.ToString(g.Status) == "available", err
	})
}

// waitFor polls done every millisecond until it reports true, fails, or d passes.
func waitFor(d time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("not done within %v", d)
}
