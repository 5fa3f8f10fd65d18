package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"
)

// snapshotFiles reads every file under the server's snapshot directory.
func snapshotFiles(t *testing.T, srv *ecacheProcess) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(filepath.Join(srv.dataDir, "snapshots"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSnapshotFilesAreEncryptedAtRest: the snapshot files of a group with at-rest encryption (and their
// copies) hold none of the dataset's keys or values, and restore every key; a group without at-rest
// encryption keeps plain RDB files, as it reports.
func TestSnapshotFilesAreEncryptedAtRest(t *testing.T) {
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	ctx := ctxT(t)
	for _, g := range []struct {
		id     string
		atRest bool
	}{{"sealed", true}, {"open", false}} {
		if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(g.id),
			ReplicationGroupDescription: aws.String(g.id), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.small"),
			NumCacheClusters: aws.Int32(1), AtRestEncryptionEnabled: aws.Bool(g.atRest)}); err != nil {
			t.Fatal(err)
		}
		rg := waitGroupAvailable(t, c, g.id)
		if want := map[bool]string{true: "sse-elasticache", false: "none"}[g.atRest]; string(rg.StorageEncryptionType) != want {
			t.Errorf("%s reports storage encryption %q, want %s", g.id, rg.StorageEncryptionType, want)
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr(rg.NodeGroups[0].PrimaryEndpoint)})
		for i := range 200 {
			if err := rdb.Set(ctx, fmt.Sprintf("%s-key-%d", g.id, i), fmt.Sprintf("card-number-%s-%d", g.id, i), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		rdb.Close()
		if _, err := c.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String(g.id), SnapshotName: aws.String(g.id + "-s")}); err != nil {
			t.Fatal(err)
		}
		waitSnapshot(t, c, g.id+"-s")
	}
	const kmsKey = "arn:aws:kms:us-east-1:123456789012:key/copy-key"
	if _, err := c.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("sealed-s"), TargetSnapshotName: aws.String("sealed-copy"),
		KmsKeyId: aws.String(kmsKey)}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, "sealed-copy")

	files := snapshotFiles(t, srv)
	var sealed, open, withKMS int
	for path, b := range files {
		if bytes.HasPrefix(b, []byte("ECSEAL01")) && bytes.Contains(b[:200], []byte(kmsKey)) {
			withKMS++ // sealed with the key kept for the KmsKeyId
		}
		if bytes.Contains(b, []byte("card-number-sealed")) || bytes.Contains(b, []byte("sealed-key-")) {
			t.Errorf("%s holds the data of a group with at-rest encryption in plain", path)
		}
		if bytes.HasPrefix(b, []byte("ECSEAL01")) {
			sealed++
		}
		if bytes.Contains(b, []byte("card-number-open")) {
			open++
		}
	}
	if withKMS != 1 {
		t.Errorf("%d files sealed with the copy's KmsKeyId key, want the copy's one", withKMS)
	}
	if kms, _ := filepath.Glob(filepath.Join(srv.dataDir, "keys", "kms", "*.key")); len(kms) != 1 {
		t.Errorf("keys kept for KMS key ids: %v, want one", kms)
	}
	if sealed != 2 || open != 1 {
		t.Errorf("%d sealed files (want the snapshot and its copy) and %d plain ones (want the unencrypted group's) in %d files", sealed, open, len(files))
	}

	// The copy restores every key.
	rdb := valkeyCluster(t, c, "back", "sealed-copy")
	for i := range 200 {
		if v, err := rdb.Get(ctx, fmt.Sprintf("sealed-key-%d", i)).Result(); v != fmt.Sprintf("card-number-sealed-%d", i) {
			t.Fatalf("restored sealed-key-%d = %q, %v", i, v, err)
		}
	}
	for path := range snapshotFiles(t, srv) {
		if strings.HasSuffix(path, ".plain") {
			t.Errorf("%s: the decrypted copy for the restore was left behind", path)
		}
	}
}
