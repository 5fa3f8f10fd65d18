package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
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

// logReplicas maps the driver id of every running log replica under dataDir to its API address (from the
// arguments the driver started it with).
func logReplicas(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id := range enginePIDs(dataDir) {
		if !strings.Contains(id, "-log-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dataDir, "nodes", id, "txlog.args"))
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimSpace(string(b)), "\n")
		self, peers := "", ""
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "--id":
				self = args[i+1]
			case "--peers":
				peers = args[i+1]
			}
		}
		for _, p := range strings.Split(peers, ",") {
			if f := strings.Split(p, "="); len(f) == 3 && f[0] == self {
				out[id] = f[2]
			}
		}
	}
	return out
}

// logEnd is how many bytes the log replica at api has applied.
func logEnd(api string) (uint64, error) {
	resp, err := http.Get("http://" + api + "/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		End uint64 `json:"end"`
	}
	return st.End, json.NewDecoder(resp.Body).Decode(&st)
}

// TestDurableGroup creates a group with Durability sync and uses it as a client would: each shard has a
// transaction log of three replica processes, writes through the TLS cluster client reach the logs, a shard
// whose primary engine is SIGKILLed fails over through its log without losing an acknowledged write, plain
// connections are refused, and deleting the group removes its logs.
func TestDurableGroup(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	const token = "durable-token-0123456789"
	g, newClient := createDurableGroup(t, srv, "pay", token)
	if g.Durability != types.DurabilitySync || g.EffectiveDurability != types.EffectiveDurabilitySync {
		t.Errorf("durability %q, effective %q; want sync and sync", g.Durability, g.EffectiveDurability)
	}
	logs := logReplicas(t, srv.dataDir)
	if len(logs) != 6 {
		t.Fatalf("log replicas running: %v, want three per node group", logs)
	}
	cc := newClient()
	writeClusterKeys(t, cc, "k", 500)
	for i := range 100 {
		if err := cc.Set(ctx, fmt.Sprintf("durable-secret-%d", i), fmt.Sprintf("hidden-value-%d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// At rest (the group's default for Valkey), the logs and checkpoints hold none of it in plain.
	sealedDirs, _ := filepath.Glob(filepath.Join(srv.dataDir, "nodes", "*-log-*"))
	sealedDirs = append(sealedDirs, filepath.Join(srv.dataDir, "durable"))
	files := 0
	for _, dir := range sealedDirs {
		_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || strings.HasSuffix(path, ".log") {
				return err
			}
			files++
			raw, err := os.ReadFile(path)
			if err == nil && (strings.Contains(string(raw), "durable-secret") || strings.Contains(string(raw), "hidden-value")) {
				t.Errorf("%s holds cache data in plain", path)
			}
			return err
		})
	}
	if files < 6*2+2 {
		t.Errorf("only %d files under the log replicas and checkpoints", files)
	}
	var logged uint64
	for _, api := range logs {
		end, err := logEnd(api)
		if err != nil {
			t.Fatal(err)
		}
		logged += end
	}
	if logged < 500*10 {
		t.Errorf("the logs hold %d bytes after 500 acknowledged writes", logged)
	}
	// The nodes take TLS only, the engines' own ports are not what the cluster reports.
	var nodePorts []string
	for _, id := range g.MemberClusters {
		nodePorts = append(nodePorts, fmt.Sprint(aws.ToInt32(describeCluster(t, c, id).CacheNodes[0].Endpoint.Port)))
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		for _, n := range s.Nodes {
			if port := n.Addr[strings.LastIndexByte(n.Addr, ':')+1:]; !strings.Contains(strings.Join(nodePorts, " "), port) {
				t.Errorf("CLUSTER SLOTS names %s, which is no node endpoint (%v)", n.Addr, nodePorts)
			}
		}
	}
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + nodePorts[0], Password: token, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("a durable node answered a connection without TLS")
	}

	// The shard of slot 0 loses its primary: its replica applies the log and takes over.
	w := startClusterWriter(cc, "w")
	eventually(t, 10*time.Second, "writes acknowledged", func() error {
		if w.count() < 200 {
			return fmt.Errorf("%d writes", w.count())
		}
		return nil
	})
	victim := killPrimaryOfSlot0(t, srv, c, cc)
	before := w.count()
	eventually(t, 10*time.Second, "writes acknowledged after the failover", func() error {
		if w.count() < before+200 {
			return fmt.Errorf("%d writes after the failover", w.count()-before)
		}
		return nil
	})
	waitGroupAvailable(t, c, "pay")
	verify := newClient()
	w.stop(t, verify)
	if err := checkClusterKeys(verify, "k", 500); err != nil {
		t.Errorf("after the failover: %v", err)
	}
	events, err := c.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String("pay")})
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, e := range events.Events {
		messages = append(messages, aws.ToString(e.Message))
	}
	if !strings.Contains(strings.Join(messages, "\n"), "Failover from primary node "+victim) {
		t.Errorf("no failover event for %s: %v", victim, messages)
	}

	deleteGroup(t, c, "pay")
	if left := logReplicas(t, srv.dataDir); len(left) != 0 {
		t.Errorf("log replicas left after the deletion: %v", left)
	}
	if dirs, _ := filepath.Glob(filepath.Join(srv.dataDir, "durable", "*", "pay-*")); len(dirs) != 0 {
		t.Errorf("checkpoints left after the deletion: %v", dirs)
	}
}

// createDurableGroup creates a sync group of two node groups with one replica each and returns it once
// available, with a TLS cluster client factory.
func createDurableGroup(t *testing.T, srv *ecacheProcess, id, token string) (types.ReplicationGroup, func() *redis.ClusterClient) {
	t.Helper()
	return createDurableGroupWith(t, srv, id, token, func(*elasticache.CreateReplicationGroupInput) {})
}

// createDurableGroupWith is createDurableGroup with the request changed by mod.
func createDurableGroupWith(t *testing.T, srv *ecacheProcess, id, token string, mod func(*elasticache.CreateReplicationGroupInput)) (types.ReplicationGroup, func() *redis.ClusterClient) {
	t.Helper()
	c := srv.client("us-east-1")
	in := &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String(id), Engine: aws.String("valkey"),
		CacheNodeType: aws.String("cache.r7g.large"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1),
		MultiAZEnabled: aws.Bool(true), AutomaticFailoverEnabled: aws.Bool(true), TransitEncryptionEnabled: aws.Bool(true),
		AuthToken: aws.String(token), Durability: types.DurabilitySync,
	}
	mod(in)
	if _, err := c.CreateReplicationGroup(ctxT(t), in); err != nil {
		t.Fatalf("create: %v", err)
	}
	g := waitGroupAvailable(t, c, id)
	cfg, pool := addr(g.ConfigurationEndpoint), nodeCA(t, srv)
	return g, func() *redis.ClusterClient {
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: []string{cfg}, Password: token, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
			DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second, MaxRedirects: 8,
			MaxRetries: 2, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
		})
		t.Cleanup(func() { cc.Close() })
		return cc
	}
}

// progresses waits until the writer has had n more writes acknowledged and every shard takes writes
// (keys of every slot range, written through a fresh client).
func progresses(t *testing.T, w *keyWriter, n int, after string, newClient func() *redis.ClusterClient) {
	t.Helper()
	before := w.count()
	eventually(t, 60*time.Second, "writes acknowledged after "+after, func() error {
		if got := w.count() - before; got < n {
			return fmt.Errorf("%d writes", got)
		}
		return nil
	})
	cc := newClient()
	eventually(t, 60*time.Second, "every shard writable after "+after, func() error {
		for _, key := range []string{"{a}" + after, "{b}" + after} { // slots 15495 and 3300
			if err := cc.Set(ctxT(t), key, "1", 0).Err(); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
		return nil
	})
}

// TestDurableGroupSurvivesKills runs a writer against a sync group while, one after the other, the leader
// of a shard's log, every engine of a shard, ecache itself and every engine of the group are SIGKILLed: the
// group comes back each time (a shard with no engine left is restored from its log: the replica that
// restarts first is fed the checkpoint and the log through the dead primary's endpoint, then promoted),
// and no acknowledged write is lost.
func TestDurableGroupSurvivesKills(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	const token = "durable-token-0123456789"
	g, newClient := createDurableGroup(t, srv, "kills", token)
	cc := newClient()
	writeClusterKeys(t, cc, "k", 300)
	w := startClusterWriter(cc, "w")
	progresses(t, w, 200, "the start", newClient)

	leader := logLeader(t, srv) // of node group 0001's log
	killPID(t, enginePIDs(srv.dataDir)[leader])
	progresses(t, w, 200, "killing the log's leader", newClient)
	eventually(t, 30*time.Second, "the log replica restarted", func() error {
		if n := len(logReplicas(t, srv.dataDir)); n != 6 {
			return fmt.Errorf("%d log replicas run", n)
		}
		return nil
	})

	// Every engine of one shard.
	for _, id := range g.NodeGroups[0].NodeGroupMembers {
		killPID(t, engineOf(t, srv, aws.ToString(id.CacheClusterId)))
	}
	progresses(t, w, 200, "killing every engine of a shard", newClient)
	waitGroupAvailable(t, c, "kills")

	// ecache itself.
	srv.kill()
	srv.start()
	progresses(t, w, 200, "restarting ecache", newClient)
	waitGroupAvailable(t, c, "kills")

	// Every engine of the group.
	for _, id := range g.MemberClusters {
		killPID(t, engineOf(t, srv, id))
	}
	progresses(t, w, 200, "killing every engine of the group", newClient)
	waitGroupAvailable(t, c, "kills")

	verify := newClient()
	w.stop(t, verify)
	if err := checkClusterKeys(verify, "k", 300); err != nil {
		t.Errorf("after the kills: %v", err)
	}
	failovers := failoverEvents(t, c, "kills")
	if failovers < 3 {
		t.Errorf("%d failovers recorded; want one for the shard and one per shard of the group", failovers)
	}
}

// TestDurableSnapshotRestore: a snapshot of a sync group carries its durability and its data; a group
// restored from it without naming a Durability is sync too, with logs of its own, and serves the data,
// also after a failover through its log.
func TestDurableSnapshotRestore(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	const token = "durable-token-0123456789"
	_, newClient := createDurableGroup(t, srv, "src", token)
	writeClusterKeys(t, newClient(), "k", 300)
	if _, err := c.CreateSnapshot(ctxT(t), &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("src"), SnapshotName: aws.String("src-snap")}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnapshot(t, c, "src-snap")
	if snap.Durability != types.DurabilitySync {
		t.Errorf("the snapshot's durability %q, want sync", snap.Durability)
	}
	g, restoredClient := createDurableGroupWith(t, srv, "restored", token, func(in *elasticache.CreateReplicationGroupInput) {
		in.SnapshotName, in.Durability = aws.String("src-snap"), ""
	})
	if g.Durability != types.DurabilitySync || g.EffectiveDurability != types.EffectiveDurabilitySync {
		t.Errorf("restored with durability %q, effective %q; want the snapshot's sync", g.Durability, g.EffectiveDurability)
	}
	cc := restoredClient()
	if err := checkClusterKeys(cc, "k", 300); err != nil {
		t.Errorf("the restored group: %v", err)
	}
	if err := cc.Set(ctxT(t), "after-restore", "1", 0).Err(); err != nil {
		t.Errorf("a write to the restored group: %v", err)
	}
	if n := len(logReplicas(t, srv.dataDir)); n != 12 {
		t.Errorf("%d log replicas run; want three per node group of each group", n)
	}
	// Deleting the source group removes its logs and checkpoints, and nothing of the restored group's.
	deleteGroup(t, c, "src")
	if dirs, _ := filepath.Glob(filepath.Join(srv.dataDir, "durable", "*", "restored-*", "0001", "checkpoint-*")); len(dirs) == 0 {
		t.Error("deleting another group removed the restored group's checkpoints")
	}
	if n := len(logReplicas(t, srv.dataDir)); n != 6 {
		t.Errorf("%d log replicas run after deleting the source; want the restored group's six", n)
	}
	// The restored data is in the restored group's logs: a failover keeps it.
	killPrimaryOfSlot0(t, srv, c, cc)
	waitGroupAvailable(t, c, "restored")
	if err := checkClusterKeys(restoredClient(), "k", 300); err != nil {
		t.Errorf("the restored group after a failover: %v", err)
	}
}

// failoverEvents counts the failovers recorded in the events of replication group id.
func failoverEvents(t *testing.T, c *elasticache.Client, id string) int {
	t.Helper()
	events, err := c.DescribeEvents(ctxT(t), &elasticache.DescribeEventsInput{SourceType: types.SourceTypeReplicationGroup, SourceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events.Events {
		if strings.HasPrefix(aws.ToString(e.Message), "Failover from primary node") {
			n++
		}
	}
	return n
}
