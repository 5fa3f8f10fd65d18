// Command migration measures online migration on real engines, side by side with a bare engine doing the
// same job, in one run:
//
//   - ecache: StartMigration into a two-node replication group from a valkey-server holding -mb MiB (1 KiB
//     values), until the group's primary holds every key with its link up; then CompleteMigration until the
//     group is available;
//
//   - bare: a fresh valkey-server told REPLICAOF the same source, until it holds every key with its link up.
//
// The source sends its RDB at once (repl-diskless-sync-delay 0), so neither side waits for other replicas.
//
//	go run ./bench/migration [-mb 256]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	mb := flag.Int("mb", 256, "MiB of data at the source")
	flag.Parse()
	if err := run(*mb); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// synced waits until the engine at addr follows source with its link up and holds keys keys.
func synced(ctx context.Context, addr string, keys int64) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		info, err := rdb.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			continue
		}
		if n, err := rdb.DBSize(ctx).Result(); err == nil && n == keys {
			return nil
		}
	}
	return fmt.Errorf("%s not in sync after 10 minutes", addr)
}

func run(mb int) error {
	ctx := context.Background()
	srcPort := benchkit.FreePort()
	stopSource, err := benchkit.StartEngine("valkey-server", srcPort, "--repl-diskless-sync-delay", "0")
	if err != nil {
		return err
	}
	defer stopSource()
	source := fmt.Sprintf("127.0.0.1:%d", srcPort)
	keys := mb << 10
	src := redis.NewClient(&redis.Options{Addr: source})
	err = benchkit.Fill(ctx, src, keys, 1024)
	src.Close()
	if err != nil {
		return err
	}
	fmt.Printf("source: %d keys, %d MiB of values\n", keys, mb)

	// Bare: a fresh engine replicating from the source.
	barePort := benchkit.FreePort()
	stopBare, err := benchkit.StartEngine("valkey-server", barePort, "--repl-diskless-sync-delay", "0")
	if err != nil {
		return err
	}
	bare := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", barePort)})
	start := time.Now()
	if err := bare.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(srcPort)).Err(); err != nil {
		return err
	}
	if err := synced(ctx, fmt.Sprintf("127.0.0.1:%d", barePort), int64(keys)); err != nil {
		return err
	}
	bareTook := time.Since(start)
	bare.Close()
	stopBare()

	// ecache: the same source migrated into a replication group.
	s, err := benchkit.Start("30600-30699")
	if err != nil {
		return err
	}
	defer s.Stop()
	c := s.Client()
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("target"), ReplicationGroupDescription: aws.String("bench"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.r7g.large"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true),
	}); err != nil {
		return err
	}
	g, err := benchkit.WaitAvailable(ctx, c, "target", 10*time.Millisecond)
	if err != nil {
		return err
	}
	primary := benchkit.Addr(g.NodeGroups[0].PrimaryEndpoint)
	start = time.Now()
	if _, err := c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("target"),
		CustomerNodeEndpointList: []types.CustomerNodeEndpoint{{Address: aws.String("127.0.0.1"), Port: aws.Int32(int32(srcPort))}}}); err != nil {
		return err
	}
	if err := synced(ctx, primary, int64(keys)); err != nil {
		return err
	}
	ecacheTook := time.Since(start)
	start = time.Now()
	if _, err := c.CompleteMigration(ctx, &elasticache.CompleteMigrationInput{ReplicationGroupId: aws.String("target")}); err != nil {
		return err
	}
	if _, err := benchkit.WaitAvailable(ctx, c, "target", 5*time.Millisecond); err != nil {
		return err
	}
	completeTook := time.Since(start)
	fmt.Printf("in sync: ecache StartMigration -> primary holds every key %v; bare REPLICAOF %v; ratio (bare/ecache) %.2f\n",
		ecacheTook.Round(time.Millisecond), bareTook.Round(time.Millisecond), bareTook.Seconds()/ecacheTook.Seconds())
	fmt.Printf("CompleteMigration -> available: %v\n", completeTook.Round(time.Millisecond))
	return nil
}
