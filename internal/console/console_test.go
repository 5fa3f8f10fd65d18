package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/ecache/ecache/ecachetest"
)

// browser is a cookie-keeping HTTP client of the console.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, srv *ecachetest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: srv.Endpoint, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// get fetches path and returns the final status, path and body.
func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

// post submits a form to path.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return read(b.t, resp)
}

func read(t *testing.T, resp *http.Response) (int, string, string) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Request.URL.Path, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestConsole signs in with the server's keys and uses the console as a person would: the overview shows a
// replication group's members with their roles and endpoints, TestFailover from the page moves the primary
// role, a snapshot taken from the page appears; without a session nothing is shown or done.
func TestConsole(t *testing.T) {
	if _, err := exec.LookPath("valkey-server"); err != nil {
		t.Skip("valkey-server is not installed")
	}
	srv := ecachetest.New(t)
	ec := elasticache.NewFromConfig(srv.Config)
	ctx := context.Background()
	if _, err := ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("web"),
		ReplicationGroupDescription: aws.String("console test"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	w := elasticache.NewReplicationGroupAvailableWaiter(ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("web")}, time.Minute); err != nil {
		t.Fatal(err)
	}

	stranger := newBrowser(t, srv)
	if _, path, body := stranger.get("/console/"); path != "/console/login" || strings.Contains(body, "web-001") {
		t.Fatalf("without a session the console showed %s:\n%s", path, body)
	}
	if code, _, body := stranger.post("/console/login", url.Values{"access_key_id": {srv.AccessKeyID}, "secret_access_key": {"wrong"}}); code != http.StatusForbidden || !strings.Contains(body, "not this server") {
		t.Errorf("a wrong secret: %d", code)
	}
	if _, path, _ := stranger.post("/console/action", url.Values{"action": {"test-failover"}, "group": {"web"}, "node_group": {"0001"}}); path != "/console/login" {
		t.Errorf("an action without a session ended at %s", path)
	}

	b := newBrowser(t, srv)
	code, path, page := b.post("/console/login", url.Values{"access_key_id": {srv.AccessKeyID}, "secret_access_key": {srv.SecretAccessKey}})
	if code != http.StatusOK || path != "/console/" {
		t.Fatalf("sign in: %d at %s", code, path)
	}
	primary := regexp.MustCompile(`data-cluster="(web-00[12])">web-00[12] <span class="role">primary</span> (127\.[0-9.]+:[0-9]+)`)
	m := primary.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, "replica") {
		t.Fatalf("the overview does not show web's primary and replica with endpoints:\n%s", page)
	}
	before := m[1]
	csrf := csrfField.FindStringSubmatch(page)[1]

	if code, _, _ := b.post("/console/action", url.Values{"action": {"test-failover"}, "group": {"web"}, "node_group": {"0001"}, "csrf": {"stale"}}); code != http.StatusForbidden {
		t.Errorf("an action with a wrong csrf token: %d", code)
	}
	_, _, page = b.post("/console/action", url.Values{"action": {"test-failover"}, "group": {"web"}, "node_group": {"0001"}, "csrf": {csrf}, "region": {"us-east-1"}})
	if !strings.Contains(page, "TestFailover of web node group 0001 started") {
		t.Fatalf("no notice after TestFailover:\n%s", page)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, page = b.get("/console/")
		if m := primary.FindStringSubmatch(page); m != nil && m[1] != before && strings.Contains(page, "Test Failover API called for node group 0001") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed a new primary after TestFailover:\n%s", page)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The group is modifying until the old primary has recovered as a replica; a snapshot waits for that.
	if err := w.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("web")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, _, page = b.post("/console/action", url.Values{"action": {"snapshot"}, "group": {"web"}, "name": {"from-console"}, "csrf": {csrf}})
	if !strings.Contains(page, "Snapshot from-console started") || !strings.Contains(page, "from-console</td>") {
		t.Errorf("the snapshot taken from the console is not on the page:\n%s", page)
	}
	// The node charts draw from the samples the page loads took (a second apart at least).
	chart := regexp.MustCompile(`(?s)data-node="web-001/0001">.*?aria-label="CurrConnections">\s*<rect[^>]*/><polyline[^>]*points="[0-9.]+,[0-9.]+ [0-9.]+,[0-9.]+`)
	deadline = time.Now().Add(30 * time.Second)
	for _, _, page = b.get("/console/"); !chart.MatchString(page); _, _, page = b.get("/console/") {
		if time.Now().After(deadline) {
			t.Fatalf("no CurrConnections chart of two points or more for web-001:\n%s", page)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if _, _, page := b.get("/console/?region=nowhere-9"); !strings.Contains(page, "not served") {
		t.Errorf("an unknown region: %s", page)
	}
}

// TestParameterAndSubnetGroupPages: the overview lists a parameter group and a subnet group made through the
// API; the parameter group's page shows its parameters, and a parameter set from it is what
// DescribeCacheParameters answers afterwards; a value the service refuses is shown refused and changes nothing.
func TestParameterAndSubnetGroupPages(t *testing.T) {
	srv := ecachetest.New(t)
	ec := elasticache.NewFromConfig(srv.Config)
	ctx := context.Background()
	if _, err := ec.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("tuned"),
		CacheParameterGroupFamily: aws.String("valkey8"), Description: aws.String("console test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{CacheSubnetGroupName: aws.String("private"),
		CacheSubnetGroupDescription: aws.String("two zones"), SubnetIds: []string{"subnet-0a1", "subnet-0b2"}}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, srv)
	_, _, page := b.post("/console/login", url.Values{"access_key_id": {srv.AccessKeyID}, "secret_access_key": {srv.SecretAccessKey}})
	own := regexp.MustCompile(`(?s)<table id="parameter-groups">(.*?)</table>`).FindStringSubmatch(page)
	defaults := regexp.MustCompile(`(?s)<details id="default-parameter-groups">(.*?)</details>`).FindStringSubmatch(page)
	if own == nil || defaults == nil || !strings.Contains(own[1], `name=tuned">tuned</a></td><td>valkey8</td><td>console test</td>`) ||
		strings.Contains(own[1], "default.") || !strings.Contains(defaults[1], ">default.valkey8</a>") || strings.Contains(defaults[1], "tuned") {
		t.Errorf("the overview does not list parameter group tuned apart from the default ones:\n%s", page)
	}
	if !regexp.MustCompile(`(?s)data-subnet-group="private">.*?subnet-0a1 \([a-z0-9-]+\).*?subnet-0b2 \([a-z0-9-]+\)`).MatchString(page) {
		t.Errorf("the overview does not list subnet group private with its subnets and zones:\n%s", page)
	}

	policy := regexp.MustCompile(`data-parameter="maxmemory-policy">.*\n<td class="value">([^<]*)</td>`)
	_, _, page = b.get("/console/parameter-group?region=us-east-1&name=tuned")
	m := policy.FindStringSubmatch(page)
	if m == nil || m[1] != "volatile-lru" || !strings.Contains(page, "no cache cluster") {
		t.Fatalf("the page of tuned does not show maxmemory-policy volatile-lru:\n%s", page)
	}
	csrf := csrfField.FindStringSubmatch(page)[1]
	set := func(value string) string {
		_, path, page := b.post("/console/action", url.Values{"action": {"modify-parameter"}, "region": {"us-east-1"}, "group": {"tuned"},
			"parameter": {"maxmemory-policy"}, "value": {value}, "csrf": {csrf}})
		if path != "/console/parameter-group" {
			t.Errorf("after modify-parameter the browser is at %s", path)
		}
		return page
	}
	if page = set("allkeys-lfu"); !strings.Contains(page, "Parameter maxmemory-policy of tuned set to allkeys-lfu") {
		t.Errorf("no notice after setting a parameter:\n%s", page)
	}
	if m := policy.FindStringSubmatch(page); m == nil || m[1] != "allkeys-lfu" {
		t.Errorf("the page shows maxmemory-policy %v after setting allkeys-lfu", m)
	}
	if page = set("sometimes"); !strings.Contains(page, "Refused: ") || !strings.Contains(page, "InvalidParameterValue") {
		t.Errorf("a value the service refuses is not shown refused:\n%s", page)
	}
	out, err := ec.DescribeCacheParameters(ctx, &elasticache.DescribeCacheParametersInput{CacheParameterGroupName: aws.String("tuned"), Source: aws.String("user")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Parameters) != 1 || aws.ToString(out.Parameters[0].ParameterName) != "maxmemory-policy" || aws.ToString(out.Parameters[0].ParameterValue) != "allkeys-lfu" {
		t.Errorf("DescribeCacheParameters Source=user after the console's change: %+v", out.Parameters)
	}
	if code, _, page := b.get("/console/parameter-group?region=us-east-1&name=nope"); code != http.StatusNotFound || !strings.Contains(page, "CacheParameterGroupNotFound") {
		t.Errorf("the page of a missing group: %d\n%s", code, page)
	}
}
