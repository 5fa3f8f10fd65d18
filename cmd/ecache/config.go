package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/regions"
)

// serveConfig is everything `ecache serve` is told, from flags or ECACHE_* environment variables.
type serveConfig struct {
	Listen          string
	DataDir         string
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
	NodePorts       string
	NodeHost        string
	NodeHostIPv6    string
	LogLevel        string
	MetricsListen   string
	// Regions are served beside ElastiCache's own (comma-separated names).
	Regions string

	// The S3-compatible object store for snapshot export and restore (optional).
	S3Endpoint, S3Region, S3AccessKeyID, S3SecretAccessKey string
	S3VirtualHosted                                        bool

	// OwnAddresses gives nodes and PrimaryEndpoints addresses of their own on 127.0.0.0/8.
	OwnAddresses bool
	// WarmEngines is how many idle engines of each kind are kept started ahead of need.
	WarmEngines int

	MaxClusters, MaxNodes, MaxNodesPerCluster, MaxNodesPerGroup, MaxTags int

	portLow, portHigh int
}

// env returns the environment variable name of a flag: --node-ports -> ECACHE_NODE_PORTS.
func env(flagName string) string {
	return "ECACHE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ecache")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "ecache")
	}
	return "ecache-data"
}

// parseServeFlags reads flags, with environment variables as defaults.
func parseServeFlags(args []string) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	str := func(p *string, name, def, usage string) {
		if v := os.Getenv(env(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+env(name)+")")
	}
	str(&c.Listen, "listen", "127.0.0.1:8686", "address of the ElastiCache API endpoint")
	str(&c.DataDir, "data-dir", defaultDataDir(), "directory for the store, engine nodes and credentials")
	str(&c.AccessKeyID, "access-key-id", "", "access key id clients sign with (default: generated on first start, kept in the data dir)")
	str(&c.SecretAccessKey, "secret-access-key", "", "secret access key clients sign with (default: generated on first start)")
	str(&c.AccountID, "account-id", "", "12-digit account id used in ARNs (default: generated on first start)")
	str(&c.NodePorts, "node-ports", "31000-31999", "port range LO-HI for engine nodes and configuration endpoints")
	str(&c.NodeHost, "node-host", "127.0.0.1", "address engines listen on and endpoints report")
	str(&c.NodeHostIPv6, "node-host-ipv6", "::1", "address endpoints report for clusters with IpDiscovery ipv6 (engines of ipv6 and dual_stack clusters listen on ::1)")
	str(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	str(&c.MetricsListen, "metrics-listen", "", "address of the Prometheus metrics endpoint (GET /metrics: the nodes' metrics under CloudWatch's names), e.g. 127.0.0.1:9150 (default: none)")
	str(&c.Regions, "regions", "", "regions to serve beside ElastiCache's own, comma-separated, e.g. lab-1,lab-2 (requests signed for any other region are refused)")
	str(&c.S3Endpoint, "s3-endpoint", "", "URL of the S3-compatible object store that CopySnapshot --target-bucket exports to and SnapshotArns restore from, e.g. http://127.0.0.1:9000 (MinIO) or https://s3.us-east-1.amazonaws.com (default: none, export and import refused)")
	str(&c.S3Region, "s3-region", "us-east-1", "region requests to the object store are signed for")
	str(&c.S3AccessKeyID, "s3-access-key-id", "", "access key id for the object store (default: the AWS SDK's chain: AWS_ACCESS_KEY_ID, shared config files, instance role)")
	str(&c.S3SecretAccessKey, "s3-secret-access-key", "", "secret access key for the object store")
	s3Virtual := os.Getenv(env("s3-virtual-hosted")) == "true"
	fs.BoolVar(&c.S3VirtualHosted, "s3-virtual-hosted", s3Virtual, "address buckets as <bucket>.<endpoint host> instead of <endpoint>/<bucket> (env "+env("s3-virtual-hosted")+")")
	own := os.Getenv(env("own-addresses")) != "false"
	fs.BoolVar(&c.OwnAddresses, "own-addresses", own, "give each node of IPv4 clusters and groups (not durable ones) an address of its own on 127.0.0.0/8 (127.1.x.y), where it listens on the port asked for (6379, 11211) with a TLS certificate naming it, and each PrimaryEndpoint one that its primary's engine listens on, moved at failover: clients reach engines with no hop; needs --node-host on 127.0.0.0/8 (env "+env("own-addresses")+")")
	num := func(p *int, name string, def int, usage string) {
		if v, err := strconv.Atoi(os.Getenv(env(name))); err == nil {
			def = v
		}
		fs.IntVar(p, name, def, usage+" (env "+env(name)+")")
	}
	num(&c.MaxClusters, "max-clusters", 300, "cache clusters per region (ClusterQuotaForCustomerExceeded)")
	num(&c.MaxNodes, "max-nodes", 300, "cache nodes per region (NodeQuotaForCustomerExceeded)")
	num(&c.MaxNodesPerCluster, "max-nodes-per-cluster", 40, "nodes per Memcached cluster (NodeQuotaForClusterExceeded)")
	num(&c.MaxNodesPerGroup, "max-nodes-per-group", 90, "nodes per cluster mode enabled replication group, up to 500 (NodeQuotaForClusterExceeded)")
	num(&c.MaxTags, "max-tags", 50, "tags per resource (TagQuotaPerResourceExceeded)")
	num(&c.WarmEngines, "warm-engines", 6, "idle Valkey/Redis OSS engines of each kind (engine, cluster mode) kept started at addresses of 127.2.0.0/16, which new nodes take over instead of starting a process: a node is up in milliseconds, and a cluster-mode group skips the engines' 2-second wait before a new primary serves; 0 keeps none")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ecache serve [flags]\n\nRuns the ElastiCache API and the engines it manages.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	lo, hi, ok := strings.Cut(c.NodePorts, "-")
	var err1, err2 error
	c.portLow, err1 = strconv.Atoi(lo)
	c.portHigh, err2 = strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || c.portLow < 1024 || c.portHigh > 65535 || c.portLow > c.portHigh {
		return nil, fmt.Errorf("--node-ports %q: want LO-HI within 1024-65535", c.NodePorts)
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"max-clusters", c.MaxClusters}, {"max-nodes", c.MaxNodes}, {"max-nodes-per-cluster", c.MaxNodesPerCluster}, {"max-nodes-per-group", c.MaxNodesPerGroup}, {"max-tags", c.MaxTags}} {
		if q.v < 1 {
			return nil, fmt.Errorf("--%s %d: want at least 1", q.name, q.v)
		}
	}
	if c.WarmEngines < 0 || c.WarmEngines > 100 {
		return nil, fmt.Errorf("--warm-engines %d: want 0 to 100", c.WarmEngines)
	}
	if c.MaxNodesPerGroup > 500 {
		return nil, fmt.Errorf("--max-nodes-per-group %d: ElastiCache allows at most 500", c.MaxNodesPerGroup)
	}
	if (c.S3AccessKeyID == "") != (c.S3SecretAccessKey == "") {
		return nil, errors.New("--s3-access-key-id and --s3-secret-access-key must be given together")
	}
	for _, r := range c.extraRegions() {
		if !regions.ValidName(r) {
			return nil, fmt.Errorf("--regions: %q is not a region name (lowercase letters, digits and hyphens, starting with a letter)", r)
		}
	}
	if c.AccountID != "" && !isAccountID(c.AccountID) {
		return nil, fmt.Errorf("--account-id %q: want 12 digits", c.AccountID)
	}
	return c, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// credentials are generated on first start and kept in the data dir.
type credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccountID       string `json:"accountId"`
}

const credentialsFile = "credentials.json"

// loadOrCreateCredentials fills what the flags left empty from the data dir, generating and saving
// whatever is missing. created reports whether anything new was generated.
func loadOrCreateCredentials(c *serveConfig) (creds credentials, created bool, err error) {
	path := filepath.Join(c.DataDir, credentialsFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &creds); err != nil {
			return creds, false, fmt.Errorf("read %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return creds, false, err
	}
	if creds.AccessKeyID == "" {
		creds.AccessKeyID = "AKIA" + randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
		creds.SecretAccessKey = randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40)
		created = true
	}
	if creds.AccountID == "" {
		creds.AccountID = randomString("0123456789", 12)
		created = true
	}
	if created {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return creds, false, err
		}
		data, _ := json.MarshalIndent(creds, "", "  ")
		if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
			return creds, false, err
		}
	}
	if c.AccessKeyID != "" || c.SecretAccessKey != "" {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return creds, false, errors.New("--access-key-id and --secret-access-key must be given together")
		}
		creds.AccessKeyID, creds.SecretAccessKey = c.AccessKeyID, c.SecretAccessKey
	}
	if c.AccountID != "" {
		creds.AccountID = c.AccountID
	}
	return creds, created, nil
}

func randomString(alphabet string, n int) string {
	out := make([]byte, n)
	for i := range out {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// extraRegions are the names --regions lists.
func (c *serveConfig) extraRegions() []string {
	var out []string
	for r := range strings.SplitSeq(c.Regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
