package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// TestOnlineMigration migrates a self-managed valkey-server (started by the test, with data) into a
// replication group, as ElastiCache's online migration does: StartMigration makes the group's primary a
// replica of the source, so the group shows migrating, serves the source's keys and the writes still made
// there, and refuses writes of its own; CompleteMigration, once the primary is in sync, makes it a primary
// again and the group available and writable, and later writes to the source stay there. TestMigration
// tries a source and a closed port first, recording each outcome as an event. A second migration
// from a source that does not answer is ended with Force and keeps the group's data. Refusals get their
// modelled faults.
func TestOnlineMigration(t *testing.T) {
	requireBinary(t, "valkey-server")
	port := freePort(t)
	src := exec.Command("valkey-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := src.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Process.Kill(); _ = src.Wait() })
	source := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer source.Close()
	eventually(t, 10*time.Second, "the source answers", func() error { return source.Ping(ctxT(t)).Err() })
	check := writeDataset(t, source, 2000)
	// The test's own keys go to database 1, beside the dataset's (database 0, which check counts).
	source1 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DB: 1})
	defer source1.Close()

	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("target"), ReplicationGroupDescription: aws.String("migration target"), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	g := waitGroupAvailable(t, c, "target")
	endpoint := func(host string, port int) []types.CustomerNodeEndpoint {
		return []types.CustomerNodeEndpoint{{Address: aws.String(host), Port: aws.Int32(int32(port))}}
	}
	fault := func(what string, err error, code string) {
		t.Helper()
		if got, _ := apiError(t, err); got != code {
			t.Errorf("%s: %v, want %s", what, err, code)
		}
	}
	_, err := c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: append(endpoint("127.0.0.1", port), endpoint("127.0.0.1", port)...)})
	fault("two source endpoints", err, "InvalidParameterValue")
	_, err = c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("nope"), CustomerNodeEndpointList: endpoint("127.0.0.1", port)})
	fault("an unknown group", err, "ReplicationGroupNotFoundFault")
	_, err = c.CompleteMigration(ctx, &elasticache.CompleteMigrationInput{ReplicationGroupId: aws.String("target")})
	fault("completing no migration", err, "ReplicationGroupNotUnderMigrationFault")

	// TestMigration tries a source without moving data: the outcome is an event of the group.
	groupEvent := func(what, want string) {
		t.Helper()
		eventually(t, 10*time.Second, what, func() error {
			events, err := c.DescribeEvents(ctxT(t), &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("target")})
			if err != nil {
				return err
			}
			for _, e := range events.Events {
				if strings.HasPrefix(aws.ToString(e.Message), want) {
					return nil
				}
			}
			return fmt.Errorf("no event %q among %d", want, len(events.Events))
		})
	}
	closed := freePort(t)
	for _, p := range []int{port, closed} {
		tested, err := c.TestMigration(ctx, &elasticache.TestMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: endpoint("127.0.0.1", p)})
		if err != nil || aws.ToString(tested.ReplicationGroup.Status) != "available" {
			t.Fatalf("TestMigration from port %d: %v", p, err)
		}
	}
	groupEvent("the test of a closed port", fmt.Sprintf("Migration test failed: 127.0.0.1:%d cannot be replicated from: ", closed))
	if _, err := c.TestMigration(ctx, &elasticache.TestMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: endpoint("127.0.0.1", port)}); err != nil {
		t.Fatal(err)
	}
	groupEvent("the test of the source", fmt.Sprintf("Migration test succeeded: 127.0.0.1:%d answers without a password, as a primary", port))
	if n, _ := primary0(t, g).DBSize(ctx).Result(); n != 0 {
		t.Errorf("TestMigration moved data: the group holds %d keys", n)
	}

	out, err := c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: endpoint("127.0.0.1", port)})
	if err != nil || aws.ToString(out.ReplicationGroup.Status) != "migrating" {
		t.Fatalf("StartMigration: %v (status %s), want migrating", err, aws.ToString(out.ReplicationGroup.Status))
	}
	_, err = c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: endpoint("127.0.0.1", port)})
	fault("a second StartMigration", err, "ReplicationGroupAlreadyUnderMigrationFault")

	primary := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint)})
	defer primary.Close()
	reader := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].ReaderEndpoint)})
	defer reader.Close()
	primary1 := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint), DB: 1})
	defer primary1.Close()
	reader1 := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].ReaderEndpoint), DB: 1})
	defer reader1.Close()
	eventually(t, 30*time.Second, "the group serves the source's keys", func() error { return check(primary) })
	if err := source1.Set(ctx, "during", "migration", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a write to the source reaches the group's replica", func() error {
		if v, err := reader1.Get(ctxT(t), "during").Result(); err != nil || v != "migration" {
			return fmt.Errorf("during = %q, %v", v, err)
		}
		return nil
	})
	if err := primary1.Set(ctx, "own", "write", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("a write to the group during the migration: %v, want READONLY", err)
	}
	eventually(t, 10*time.Second, "the in-sync event", func() error {
		events, err := c.DescribeEvents(ctxT(t), &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("target")})
		if err != nil {
			return err
		}
		for _, e := range events.Events {
			if aws.ToString(e.Message) == fmt.Sprintf("Migration: the primary is in sync with 127.0.0.1:%d", port) {
				return nil
			}
		}
		return fmt.Errorf("no in-sync event among %d", len(events.Events))
	})

	if _, err := c.CompleteMigration(ctx, &elasticache.CompleteMigrationInput{ReplicationGroupId: aws.String("target")}); err != nil {
		t.Fatalf("CompleteMigration: %v", err)
	}
	waitGroupAvailable(t, c, "target")
	if err := primary1.Set(ctx, "own", "write", 0).Err(); err != nil {
		t.Errorf("a write to the group after the migration: %v", err)
	}
	if err := source1.Set(ctx, "after", "cutover", 0).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // what replication would have brought by now
	if n, err := primary1.Exists(ctx, "after").Result(); err != nil || n != 0 {
		t.Errorf("a write to the source after CompleteMigration reached the group: %d, %v", n, err)
	}
	if err := check(reader); err != nil {
		t.Errorf("the group's replica after the migration: %v", err)
	}

	// A source that does not answer: the migration never gets in sync, and Force ends it with the data kept.
	dead := freePort(t)
	if _, err := c.StartMigration(ctx, &elasticache.StartMigrationInput{ReplicationGroupId: aws.String("target"), CustomerNodeEndpointList: endpoint("127.0.0.1", dead)}); err != nil {
		t.Fatalf("StartMigration from a dead source: %v", err)
	}
	if _, err := c.CompleteMigration(ctx, &elasticache.CompleteMigrationInput{ReplicationGroupId: aws.String("target"), Force: aws.Bool(true)}); err != nil {
		t.Fatalf("CompleteMigration --force: %v", err)
	}
	waitGroupAvailable(t, c, "target")
	if v, err := primary1.Get(ctx, "own").Result(); err != nil || v != "write" {
		t.Errorf("after a forced end of a migration from a dead source: own = %q, %v", v, err)
	}
	if err := check(primary); err != nil {
		t.Errorf("after a forced end of a migration from a dead source: %v", err)
	}
}

// primary0 is a client of database 0 at g's PrimaryEndpoint, closed when the test ends.
func primary0(t *testing.T, g types.ReplicationGroup) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr(g.NodeGroups[0].PrimaryEndpoint)})
	t.Cleanup(func() { c.Close() })
	return c
}
