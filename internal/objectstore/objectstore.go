// Package objectstore reads and writes snapshot files in an S3-compatible object store (AWS S3, MinIO,
// moto_server…) through the aws-sdk-go-v2 S3 client: exports of snapshots and seeds of new clusters.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Errors the store's answers are sorted into; the wrapped error keeps the store's own.
var (
	ErrNoSuchBucket = errors.New("bucket does not exist")
	ErrNoSuchKey    = errors.New("object does not exist")
	ErrAccessDenied = errors.New("access denied")
)

// Config says where the object store is and how to sign requests to it.
type Config struct {
	// Endpoint is the store's base URL, e.g. http://127.0.0.1:9000 for MinIO or
	// https://s3.eu-west-1.amazonaws.com for AWS S3.
	Endpoint string
	// Region signs requests; S3-compatible stores mostly accept any.
	Region string
	// AccessKeyID and SecretAccessKey, when set, sign requests; otherwise the AWS SDK's default chain
	// (AWS_ACCESS_KEY_ID…, shared config files, instance roles) provides credentials.
	AccessKeyID, SecretAccessKey string
	// VirtualHosted addresses buckets as <bucket>.<endpoint host> instead of <endpoint>/<bucket>.
	VirtualHosted bool
}

// Store is a configured object store client.
type Store struct {
	client   *s3.Client
	partSize int64 // multipart upload part size; 0 means defaultPartSize
}

// New returns a Store for cfg; it makes no request.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("object store endpoint is required")
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("object store configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
		o.UsePathStyle = !cfg.VirtualHosted
		// Checksums only where S3 requires them: S3-compatible stores differ in which they accept.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{client: client}, nil
}

// Object is what the store says about an object.
type Object struct {
	Size     int64
	Metadata map[string]string
}

// CheckBucket reports whether bucket exists and can be read.
func (s *Store) CheckBucket(ctx context.Context, bucket string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	return classify(err, ErrNoSuchBucket)
}

// Stat describes object key of bucket; a missing one is ErrNoSuchKey.
func (s *Store) Stat(ctx context.Context, bucket, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return Object{}, classify(err, ErrNoSuchKey)
	}
	return Object{Size: aws.ToInt64(out.ContentLength), Metadata: out.Metadata}, nil
}

// CheckWritable reports whether key can be written in bucket, without writing it: it starts a multipart
// upload (which needs the same permission as writing the object) and aborts it.
func (s *Store) CheckWritable(ctx context.Context, bucket, key string) error {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return classify(err, ErrNoSuchBucket)
	}
	_, err = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: out.UploadId})
	return classify(err, ErrNoSuchBucket)
}

// ReadHead returns the first n bytes of an object (fewer if it is shorter).
func (s *Store) ReadHead(ctx context.Context, bucket, key string, n int) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=0-%d", n-1))})
	if err != nil {
		return nil, classify(err, ErrNoSuchKey)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, int64(n)))
	return b, err
}

// defaultPartSize is the part size of multipart uploads (larger for files of more than maxParts parts);
// files up to this size go in one PUT.
const defaultPartSize = 16 << 20

// maxParts is S3's limit on the parts of one upload.
const maxParts = 10000

// partConcurrency is how many parts of a multipart upload are sent at once (each is hashed for its
// signature while it is read, so parts in parallel also spread that work).
const partConcurrency = 8

// Upload writes the file at path as object key of bucket, with user metadata. The object appears whole or
// not at all: a file larger than one part goes up as a multipart upload (S3 takes at most 5 GiB in one
// PUT), parts in parallel, completed only when every part arrived and aborted otherwise.
func (s *Store) Upload(ctx context.Context, bucket, key, path string, metadata map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	partSize := s.partSize
	if partSize == 0 {
		partSize = max(defaultPartSize, (st.Size()+maxParts-1)/maxParts)
	}
	if st.Size() <= partSize {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: f, ContentLength: aws.Int64(st.Size()),
			ContentType: aws.String("application/octet-stream"), Metadata: metadata,
		})
		return classify(err, ErrNoSuchBucket)
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("application/octet-stream"), Metadata: metadata,
	})
	if err != nil {
		return classify(err, ErrNoSuchBucket)
	}
	parts, err := s.uploadParts(ctx, bucket, key, up.UploadId, f, st.Size(), partSize)
	if err != nil {
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, _ = s.client.AbortMultipartUpload(abortCtx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId})
		cancel()
		return classify(err, ErrNoSuchBucket)
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return classify(err, ErrNoSuchBucket)
}

// uploadParts sends the parts of a multipart upload of f (size bytes), partConcurrency at a time, and
// returns them in order; the first failure stops the rest.
func (s *Store) uploadParts(ctx context.Context, bucket, key string, uploadID *string, f *os.File, size, partSize int64) ([]types.CompletedPart, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	count := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, count)
	errs := make([]error, count)
	slots := make(chan struct{}, partConcurrency)
	var wg sync.WaitGroup
	for i := range count {
		off := int64(i) * partSize
		n := min(partSize, size-off)
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: uploadID, PartNumber: aws.Int32(int32(i + 1)),
				Body: io.NewSectionReader(f, off, n), ContentLength: aws.Int64(n),
			})
			if err != nil {
				errs[i] = err
				cancel()
				return
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return parts, nil
}

// Download copies object key of bucket to w.
func (s *Store) Download(ctx context.Context, bucket, key string, w io.Writer) (int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, classify(err, ErrNoSuchKey)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, out.Body)
	if err == nil && out.ContentLength != nil && n != *out.ContentLength {
		err = fmt.Errorf("object %s/%s: read %d of %d bytes", bucket, key, n, *out.ContentLength)
	}
	return n, err
}

// classify wraps err with ErrAccessDenied, or notFound for a 404, keeping the store's error.
func classify(err error, notFound error) error {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: %w", ErrNoSuchBucket, err)
	case code == "NoSuchKey":
		return fmt.Errorf("%w: %w", ErrNoSuchKey, err)
	case status == http.StatusNotFound || code == "NotFound":
		return fmt.Errorf("%w: %w", notFound, err)
	case status == http.StatusForbidden || code == "AccessDenied" || strings.HasPrefix(code, "InvalidAccessKey") || code == "SignatureDoesNotMatch":
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

// ParseARN splits an S3 object ARN (arn:aws:s3:::bucket/key, in any partition) into bucket and key.
func ParseARN(arn string) (bucket, key string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "s3" || parts[3] != "" || parts[4] != "" {
		return "", "", false
	}
	bucket, key, found := strings.Cut(parts[5], "/")
	if !found || bucket == "" || key == "" {
		return "", "", false
	}
	return bucket, key, true
}
