package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// postReset sends POST path to srv, unsigned as moto fixtures send it, and decodes the JSON answer.
func postReset(t *testing.T, srv *ecacheProcess, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+srv.listen+path, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s answered %d with no JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// TestResetDeletesEverything fills two regions with clusters, a replication group, a snapshot, a
// parameter group and users, then resets through moto's path: the answer comes once nothing is left (no
// record, engine or snapshot file), and ecache works on afterwards. Without --allow-reset the paths are 404
// and delete nothing.
func TestResetDeletesEverything(t *testing.T) {
	requireBinary(t, "valkey-server", "redis-server")
	off := startServer(t)
	c := off.client("us-east-1")
	ctx := ctxT(t)
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("kept"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/_ecache/reset", "/moto-api/reset"} {
		if code, body := postReset(t, off, path); code != http.StatusNotFound || body["status"] != "error" {
			t.Errorf("%s without --allow-reset: %d %v, want 404", path, code, body)
		}
	}
	if _, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("kept")}); err != nil {
		t.Errorf("the cluster after a refused reset: %v", err)
	}

	srv := startServer(t, "--allow-reset")
	for _, rg := range []string{"us-east-1", "eu-west-1"} {
		c := srv.client(rg)
		if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("one"), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("mine"),
			CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("mine")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("u"), UserName: aws.String("u"), Engine: aws.String("redis"),
			AccessString: aws.String("on ~* +@all"), NoPasswordRequired: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	c = srv.client("us-east-1")
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("grp"),
		ReplicationGroupDescription: aws.String("grp"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, c, "grp")
	if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("grp"), SnapshotName: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, "snap")
	if len(enginePIDs(srv.dataDir)) < 4 {
		t.Fatalf("engines before the reset: %v", enginePIDs(srv.dataDir))
	}

	code, body := postReset(t, srv, "/moto-api/reset")
	if code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("reset: %d %v", code, body)
	}
	if pids := enginePIDs(srv.dataDir); len(pids) != 0 {
		t.Errorf("engines left after the reset answered: %v", pids)
	}
	if files, _ := filepath.Glob(filepath.Join(srv.dataDir, "snapshots", "*")); len(files) != 0 {
		t.Errorf("snapshot files left: %v", files)
	}
	if nodes, _ := os.ReadDir(filepath.Join(srv.dataDir, "nodes")); len(nodes) != 0 {
		t.Errorf("node directories left: %d", len(nodes))
	}
	for _, rg := range []string{"us-east-1", "eu-west-1"} {
		c := srv.client(rg)
		clusters, err := c.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err != nil || len(clusters.CacheClusters) != 0 {
			t.Errorf("%s: clusters after the reset: %v %v", rg, err, clusters)
		}
		groups, err := c.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
		if err != nil || len(groups.ReplicationGroups) != 0 {
			t.Errorf("%s: replication groups after the reset: %v", rg, err)
		}
		snaps, err := c.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{})
		if err != nil || len(snaps.Snapshots) != 0 {
			t.Errorf("%s: snapshots after the reset: %v", rg, err)
		}
		if _, err := c.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{CacheParameterGroupName: aws.String("mine")}); err == nil {
			t.Errorf("%s: the parameter group survived the reset", rg)
		}
		users, err := c.DescribeUsers(ctx, &elasticache.DescribeUsersInput{})
		if err != nil || len(users.Users) != 1 {
			t.Errorf("%s: users after the reset: %v %d", rg, err, len(users.Users))
		}
		events, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{Duration: aws.Int32(60)})
		if err != nil || len(events.Events) != 0 {
			t.Errorf("%s: events after the reset: %v %v", rg, err, events)
		}
	}
	// ecache goes on: the same ids can be created again.
	if _, err := c.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("one"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, "one")
}
