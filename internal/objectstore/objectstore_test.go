package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/objectstore/s3test"
)

func newStore(t *testing.T, srv *s3test.Server, key s3test.Key) *objectstore.Store {
	t.Helper()
	st, err := objectstore.New(context.Background(), objectstore.Config{Endpoint: srv.Endpoint, AccessKeyID: key.ID, SecretAccessKey: key.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRoundTripAndErrors uploads and downloads through moto_server enforcing IAM policies, and checks that
// each refusal is sorted into the error the service reports.
func TestRoundTripAndErrors(t *testing.T) {
	srv := s3test.Start(t, true)
	ctx := context.Background()
	writer, reader := newStore(t, srv, srv.Writer), newStore(t, srv, srv.Reader)
	srv.CreateBucket(t, "exports")

	if err := writer.CheckBucket(ctx, "missing-bucket"); !errors.Is(err, objectstore.ErrNoSuchBucket) {
		t.Fatalf("CheckBucket of a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	if err := writer.CheckBucket(ctx, "exports"); err != nil {
		t.Fatalf("CheckBucket: %v", err)
	}
	if err := reader.CheckBucket(ctx, "exports"); err != nil {
		t.Fatalf("CheckBucket as the reader: %v", err)
	}
	if err := writer.CheckWritable(ctx, "exports", "a.rdb"); err != nil {
		t.Fatalf("CheckWritable: %v", err)
	}
	if err := reader.CheckWritable(ctx, "exports", "a.rdb"); !errors.Is(err, objectstore.ErrAccessDenied) {
		t.Fatalf("CheckWritable as the reader = %v, want ErrAccessDenied", err)
	}
	if keys := srv.Keys(t, "exports"); len(keys) != 0 {
		t.Fatalf("the write checks left objects behind: %v", keys)
	}
	stranger := newStore(t, srv, s3test.Key{ID: "AKIAUNKNOWN000000000", Secret: "nope"})
	if err := stranger.CheckBucket(ctx, "exports"); !errors.Is(err, objectstore.ErrAccessDenied) {
		t.Fatalf("CheckBucket with an unknown key = %v, want ErrAccessDenied", err)
	}

	data := bytes.Repeat([]byte("REDIS0011-payload-"), 200_000)
	path := filepath.Join(t.TempDir(), "a.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reader.Upload(ctx, "exports", "a.rdb", path, nil); !errors.Is(err, objectstore.ErrAccessDenied) {
		t.Fatalf("Upload as the reader = %v, want ErrAccessDenied", err)
	}
	if err := writer.Upload(ctx, "exports", "a.rdb", path, map[string]string{"ecache-slots": "0-8191"}); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	obj, err := reader.Stat(ctx, "exports", "a.rdb")
	if err != nil || obj.Size != int64(len(data)) || obj.Metadata["ecache-slots"] != "0-8191" {
		t.Fatalf("Stat = %+v, %v; want size %d and the slots metadata", obj, err, len(data))
	}
	if _, err := reader.Stat(ctx, "exports", "b.rdb"); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("Stat of a missing key = %v, want ErrNoSuchKey", err)
	}
	head, err := reader.ReadHead(ctx, "exports", "a.rdb", 9)
	if err != nil || string(head) != "REDIS0011" {
		t.Fatalf("ReadHead = %q, %v", head, err)
	}
	var got bytes.Buffer
	if n, err := reader.Download(ctx, "exports", "a.rdb", &got); err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("Download: %d bytes, %v; content equal %v", n, err, bytes.Equal(got.Bytes(), data))
	}
	if _, err := reader.Download(ctx, "exports", "b.rdb", &got); !errors.Is(err, objectstore.ErrNoSuchKey) {
		t.Fatalf("Download of a missing key = %v, want ErrNoSuchKey", err)
	}
	if _, err := writer.Download(ctx, "missing-bucket", "a.rdb", &got); !errors.Is(err, objectstore.ErrNoSuchBucket) {
		t.Fatalf("Download from a missing bucket = %v, want ErrNoSuchBucket", err)
	}
}

func TestParseARN(t *testing.T) {
	for _, c := range []struct {
		arn, bucket, key string
		ok               bool
	}{
		{"arn:aws:s3:::my-bucket/export-1.rdb", "my-bucket", "export-1.rdb", true},
		{"arn:aws:s3:::my-bucket/dir/export-1.rdb", "my-bucket", "dir/export-1.rdb", true},
		{"arn:aws-cn:s3:::b/k.rdb", "b", "k.rdb", true},
		{"arn:aws:s3:::my-bucket", "", "", false},
		{"arn:aws:s3:::/k.rdb", "", "", false},
		{"arn:aws:ec2:::b/k", "", "", false},
		{"s3://b/k", "", "", false},
	} {
		b, k, ok := objectstore.ParseARN(c.arn)
		if b != c.bucket || k != c.key || ok != c.ok {
			t.Errorf("ParseARN(%q) = %q, %q, %v", c.arn, b, k, ok)
		}
	}
}

// TestMultipartUpload uploads a file larger than one part: it arrives whole, with its metadata; refused or
// cancelled uploads leave no object.
func TestMultipartUpload(t *testing.T) {
	srv := s3test.Start(t, false)
	ctx := context.Background()
	st := newStore(t, srv, srv.Writer)
	objectstore.SetPartSize(st, 5<<20)
	srv.CreateBucket(t, "parts")
	data := make([]byte, 12<<20+12345) // three parts, the last one short
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "big.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.Upload(ctx, "parts", "big.rdb", path, map[string]string{"ecache-node-group": "0002"}); err != nil {
		t.Fatalf("multipart Upload: %v", err)
	}
	got, meta := srv.Get(t, "parts", "big.rdb")
	if !bytes.Equal(got, data) || meta["ecache-node-group"] != "0002" {
		t.Fatalf("uploaded object: %d bytes (want %d), equal %v, metadata %v", len(got), len(data), bytes.Equal(got, data), meta)
	}
	if err := st.Upload(ctx, "no-such-bucket", "big.rdb", path, nil); !errors.Is(err, objectstore.ErrNoSuchBucket) {
		t.Fatalf("multipart Upload to a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	// A cancelled upload: nothing appears.
	cut, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Upload(cut, "parts", "cut.rdb", path, nil); err == nil {
		t.Fatal("Upload with a cancelled context succeeded")
	}
	if keys := srv.Keys(t, "parts"); len(keys) != 1 || keys[0] != "big.rdb" {
		t.Errorf("bucket holds %v, want only big.rdb", keys)
	}
}
