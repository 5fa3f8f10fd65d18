package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/service"
)

// signedPost sends a form body signed for region and gives the HTTP status and the error document's code.
func signedPost(t *testing.T, endpoint, region string, form url.Values) (int, string) {
	t.Helper()
	body := []byte(form.Encode())
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		req, hex.EncodeToString(sum[:]), "elasticache", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, _ := io.ReadAll(resp.Body)
	var e errorResponse
	_ = xml.Unmarshal(doc, &e)
	return resp.StatusCode, e.Code
}

// Every member that names a resource is held to ElastiCache's length rule before anything is looked up or
// stored: an overlong name is a bad parameter (400), never an internal failure, and creates nothing.
func TestOverlongIdentifiersAreBadParameters(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	long := "a" + strings.Repeat("b", 4086)
	arn := "arn:aws:elasticache:us-east-1:123456789012:cluster:" + long
	rows := []struct {
		action string
		params map[string]string
		code   string
	}{
		{"DeleteCacheCluster", map[string]string{"CacheClusterId": long}, "InvalidParameterValue"},
		{"DescribeCacheClusters", map[string]string{"CacheClusterId": long}, "InvalidParameterValue"},
		{"ModifyCacheCluster", map[string]string{"CacheClusterId": long, "NumCacheNodes": "1"}, "InvalidParameterValue"},
		{"RebootCacheCluster", map[string]string{"CacheClusterId": long, "CacheNodeIdsToReboot.CacheNodeId.1": "0001"}, "InvalidParameterValue"},
		{"CreateCacheCluster", map[string]string{"CacheClusterId": "ok", "Engine": "redis", "CacheNodeType": "cache.t3.micro",
			"CacheSecurityGroupNames.CacheSecurityGroupName.1": long}, "InvalidParameterValue"},
		{"CreateCacheCluster", map[string]string{"CacheClusterId": "ok", "ReplicationGroupId": strings.Repeat("g", 41)}, "InvalidParameterValue"},
		{"DeleteReplicationGroup", map[string]string{"ReplicationGroupId": long}, "InvalidParameterValue"},
		{"DescribeReplicationGroups", map[string]string{"ReplicationGroupId": long}, "InvalidParameterValue"},
		{"TestFailover", map[string]string{"ReplicationGroupId": long, "NodeGroupId": "0001"}, "InvalidParameterValue"},
		{"DecreaseReplicaCount", map[string]string{"ReplicationGroupId": "g", "ApplyImmediately": "true",
			"ReplicasToRemove.member.1": long}, "InvalidParameterValue"},
		{"DeleteCacheParameterGroup", map[string]string{"CacheParameterGroupName": long}, "InvalidParameterValue"},
		{"DescribeCacheParameters", map[string]string{"CacheParameterGroupName": long}, "InvalidParameterValue"},
		{"DeleteCacheSubnetGroup", map[string]string{"CacheSubnetGroupName": long}, "InvalidParameterValue"},
		{"DescribeCacheSubnetGroups", map[string]string{"CacheSubnetGroupName": long}, "InvalidParameterValue"},
		{"DeleteCacheSecurityGroup", map[string]string{"CacheSecurityGroupName": long}, "InvalidParameterValue"},
		{"AuthorizeCacheSecurityGroupIngress", map[string]string{"CacheSecurityGroupName": long,
			"EC2SecurityGroupName": "web", "EC2SecurityGroupOwnerId": "123456789012"}, "InvalidParameterValue"},
		{"DeleteSnapshot", map[string]string{"SnapshotName": long}, "InvalidParameterValue"},
		{"DescribeSnapshots", map[string]string{"SnapshotName": long}, "InvalidParameterValue"},
		{"CopySnapshot", map[string]string{"SourceSnapshotName": long, "TargetSnapshotName": "t"}, "InvalidParameterValue"},
		{"CopySnapshot", map[string]string{"SourceSnapshotName": "s", "TargetSnapshotName": long}, "InvalidParameterValue"},
		{"ListTagsForResource", map[string]string{"ResourceName": arn}, "InvalidARN"},
		{"AddTagsToResource", map[string]string{"ResourceName": arn, "Tags.Tag.1.Key": "k", "Tags.Tag.1.Value": "v"}, "InvalidARN"},
	}
	for _, r := range rows {
		form := url.Values{"Action": {r.action}, "Version": {"2015-02-02"}}
		for k, v := range r.params {
			form.Set(k, v)
		}
		if status, code := signedPost(t, p.endpoint, "us-east-1", form); status != http.StatusBadRequest || code != r.code {
			t.Errorf("%s %v: HTTP %d %s, want 400 %s", r.action, keys(r.params), status, code, r.code)
		}
	}
	for _, kind := range []string{resource.KindCluster, resource.KindReplicationGroup, resource.KindSnapshot} {
		if objs, err := p.store.List(context.Background(), kind); err != nil || len(objs) != 0 {
			t.Errorf("%s records after refused requests: %d (%v), want none", kind, len(objs), err)
		}
	}
}

// Requests are served for ElastiCache's regions only: one signed for a made-up region is refused as AWS's
// endpoints refuse it, and creates nothing.
func TestUnknownRegionsAreRefused(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	create := url.Values{"Action": {"CreateCacheParameterGroup"}, "Version": {"2015-02-02"}, "CacheParameterGroupName": {"pg"},
		"CacheParameterGroupFamily": {"redis7"}, "Description": {"d"}}
	for _, region := range []string{strings.Repeat("x", 300), "moon-central-1", "US-EAST-1"} {
		if status, code := signedPost(t, p.endpoint, region, create); status != http.StatusForbidden || code != "SignatureDoesNotMatch" {
			t.Errorf("region %.20q: HTTP %d %s, want 403 SignatureDoesNotMatch", region, status, code)
		}
	}
	if objs, err := p.store.List(context.Background(), resource.KindParameterGroup); err != nil || len(objs) != 0 {
		t.Errorf("parameter groups after refused requests: %d (%v), want none", len(objs), err)
	}
	if status, code := signedPost(t, p.endpoint, "eu-south-2", create); status != http.StatusOK {
		t.Errorf("eu-south-2: HTTP %d %s, want 200", status, code)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
