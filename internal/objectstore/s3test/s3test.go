// Package s3test runs moto_server as a real S3-protocol server for tests, optionally enforcing IAM
// policies, with a user that may write and one that may only read.
package s3test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Key is an access key of the server.
type Key struct{ ID, Secret string }

// Server is a running moto_server.
type Server struct {
	Endpoint string
	// Writer may do anything; Reader may only look at buckets and read objects. Without enforced policies
	// both are accepted for everything.
	Writer, Reader Key
}

// Start runs moto_server on a free port until the test ends; the test is skipped where moto_server is not
// installed. With policies, requests must be signed by a known key and are checked against its IAM policy.
func Start(t testing.TB, policies bool) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "INITIAL_NO_AUTH_ACTION_COUNT=") })
	if policies {
		// The IAM setup below takes 6 unauthenticated calls; every call after them is checked.
		cmd.Env = append(cmd.Env, "INITIAL_NO_AUTH_ACTION_COUNT=6")
	}
	logPath := filepath.Join(t.TempDir(), "moto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("moto_server did not start:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := &Server{Endpoint: "http://" + addr, Writer: Key{"AKIAWRITERKEY0000000", "writer-secret"}, Reader: Key{"AKIAREADERKEY0000000", "reader-secret"}}
	if policies {
		s.Writer = s.iamUser(t, "writer", []string{"*"})
		s.Reader = s.iamUser(t, "reader", []string{"s3:HeadBucket", "s3:ListBucket", "s3:GetObject"})
	}
	return s
}

// iamUser creates a user allowed actions, and an access key for it.
func (s *Server) iamUser(t testing.TB, name string, actions []string) Key {
	t.Helper()
	s.iam(t, url.Values{"Action": {"CreateUser"}, "UserName": {name}})
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}}})
	s.iam(t, url.Values{"Action": {"PutUserPolicy"}, "UserName": {name}, "PolicyName": {name}, "PolicyDocument": {string(policy)}})
	body := s.iam(t, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}})
	var out struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(body, &out); err != nil || out.ID == "" {
		t.Fatalf("CreateAccessKey %s: %v\n%s", name, err, body)
	}
	return Key{out.ID, out.Secret}
}

// iam makes one IAM Query call, signed with a throwaway key (it is one of the unauthenticated calls).
func (s *Server) iam(t testing.TB, form url.Values) []byte {
	t.Helper()
	form.Set("Version", "2010-05-08")
	payload := form.Encode()
	req, err := http.NewRequest(http.MethodPost, s.Endpoint+"/", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(payload))
	creds := aws.Credentials{AccessKeyID: "AKIASETUP00000000000", SecretAccessKey: "setup"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %s: %s\n%s", form.Get("Action"), resp.Status, body)
	}
	return body
}

// Client is an S3 client of the server signing with key.
func (s *Server) Client(key Key) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(key.ID, key.Secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates bucket as the writer.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	if _, err := s.Client(s.Writer).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// Put writes an object as the writer.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	_, err := s.Client(s.Writer).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// Get reads an object as the writer, with its user metadata.
func (s *Server) Get(t testing.TB, bucket, key string) ([]byte, map[string]string) {
	t.Helper()
	out, err := s.Client(s.Writer).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out.Metadata
}

// Keys lists the object keys of bucket.
func (s *Server) Keys(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := s.Client(s.Writer).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list %s: %v", bucket, err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}
