package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/ecache/ecache/internal/service"
)

type errorResponse struct {
	Type      string `xml:"Error>Type"`
	Code      string `xml:"Error>Code"`
	Message   string `xml:"Error>Message"`
	RequestID string `xml:"RequestId"`
}

// TestProtocolErrors sends raw requests, signed or not, and checks each AWS error document.
func TestProtocolErrors(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	endpoint := p.endpoint
	sign := func(req *http.Request, body []byte, key, secret string, at time.Time) {
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), "elasticache", "eu-central-1", at); err != nil {
			t.Fatal(err)
		}
	}
	post := func(body string) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		return req
	}
	const describe = "Action=DescribeCacheClusters&Version=2015-02-02"
	rows := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantCode   string
	}{
		{"unsigned", func() *http.Request { return post(describe) }, 403, "MissingAuthenticationToken"},
		{"wrong secret", func() *http.Request {
			r := post(describe)
			sign(r, []byte(describe), testKeyID, "not-the-secret", time.Now())
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"unknown key", func() *http.Request {
			r := post(describe)
			sign(r, []byte(describe), "AKIAUNKNOWN000000000", testSecret, time.Now())
			return r
		}, 403, "InvalidClientTokenId"},
		{"signed 20 minutes ago", func() *http.Request {
			r := post(describe)
			sign(r, []byte(describe), testKeyID, testSecret, time.Now().Add(-20*time.Minute))
			return r
		}, 400, "RequestExpired"},
		{"body changed after signing", func() *http.Request {
			r := post(describe + "&MaxRecords=20")
			sign(r, []byte(describe), testKeyID, testSecret, time.Now())
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"unknown action", func() *http.Request {
			b := "Action=LaunchRockets&Version=2015-02-02"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 400, "InvalidAction"},
		{"no action", func() *http.Request {
			b := "Version=2015-02-02"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 400, "MissingAction"},
		{"other API version", func() *http.Request {
			b := "Action=DescribeCacheClusters&Version=2014-09-30"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 400, "InvalidAction"},
		{"malformed body", func() *http.Request {
			b := "Action=DescribeCacheClusters&Version=2015-02-02&MaxRecords=%zz"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 400, "MalformedQueryString"},
		{"integer that is not one", func() *http.Request {
			b := describe + "&MaxRecords=many"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 400, "InvalidParameterValue"},
		{"operation not implemented yet", func() *http.Request {
			b := "Action=DescribeServerlessCaches&Version=2015-02-02"
			r := post(b)
			sign(r, []byte(b), testKeyID, testSecret, time.Now())
			return r
		}, 501, "NotImplemented"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(r.req())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var doc errorResponse
			if err := xml.Unmarshal(body, &doc); err != nil {
				t.Fatalf("body is not an ErrorResponse: %v\n%s", err, body)
			}
			if resp.StatusCode != r.wantStatus || doc.Code != r.wantCode {
				t.Errorf("got HTTP %d %s (%s), want HTTP %d %s", resp.StatusCode, doc.Code, doc.Message, r.wantStatus, r.wantCode)
			}
			if doc.RequestID == "" || doc.RequestID != resp.Header.Get("x-amzn-RequestId") {
				t.Errorf("request id %q in the body, %q in the header", doc.RequestID, resp.Header.Get("x-amzn-RequestId"))
			}
		})
	}

	// A presigned GET with the action in the query string works, and its region names the resources.
	req, _ := http.NewRequest(http.MethodGet, endpoint+"/?"+describe, nil)
	url, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "elasticache", "ap-southeast-2", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<DescribeCacheClustersResponse")) {
		t.Errorf("presigned GET: HTTP %d\n%s", resp.StatusCode, body)
	}
}

// TestResourcesArePerRegion creates a cluster in one region: other regions do not see it.
func TestResourcesArePerRegion(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("east") })); err != nil {
		t.Fatal(err)
	}
	west := p.clientIn("eu-west-1")
	out, err := west.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.CacheClusters) != 0 {
		t.Errorf("eu-west-1 lists %d clusters created in us-east-1", len(out.CacheClusters))
	}
	// The same id is free in another region.
	if _, err := west.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("east") })); err != nil {
		t.Errorf("creating the same id in another region: %v", err)
	}
	cl, err := west.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("east")})
	if err != nil || !strings.Contains(aws.ToString(cl.CacheClusters[0].ARN), ":eu-west-1:") {
		t.Errorf("ARN %v (%v) does not name eu-west-1", cl, err)
	}
}

// TestDescribePagination pages through 45 clusters 20 at a time.
func TestDescribePagination(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	for i := range 45 {
		id := aws.String(fmt.Sprintf("c%02d", i))
		if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = id })); err != nil {
			t.Fatal(err)
		}
	}
	pager := elasticache.NewDescribeCacheClustersPaginator(p.client, &elasticache.DescribeCacheClustersInput{MaxRecords: aws.Int32(20)})
	var pages, total int
	seen := map[string]bool{}
	for pager.HasMorePages() {
		out, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range out.CacheClusters {
			if seen[aws.ToString(c.CacheClusterId)] {
				t.Errorf("cluster %s listed twice", aws.ToString(c.CacheClusterId))
			}
			seen[aws.ToString(c.CacheClusterId)] = true
			total++
			if c.CacheNodes != nil {
				t.Errorf("CacheNodes listed without ShowCacheNodeInfo")
			}
		}
	}
	if pages != 3 || total != 45 {
		t.Errorf("%d pages with %d clusters, want 3 pages with 45", pages, total)
	}
}
