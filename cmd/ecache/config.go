package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/app"
	"github.com/ecache/ecache/internal/regions"
)

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
func parseServeFlags(args []string) (*app.Config, error) {
	c, d := &app.Config{}, app.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	str := func(p *string, name, def, usage string) {
		if v := os.Getenv(env(name)); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+env(name)+")")
	}
	str(&c.Listen, "listen", d.Listen, "address of the ElastiCache API endpoint")
	str(&c.DataDir, "data-dir", defaultDataDir(), "directory for the store, engine nodes and credentials")
	str(&c.AccessKeyID, "access-key-id", "", "access key id clients sign with (default: generated on first start, kept in the data dir)")
	str(&c.SecretAccessKey, "secret-access-key", "", "secret access key clients sign with (default: generated on first start)")
	str(&c.AccountID, "account-id", "", "12-digit account id used in ARNs (default: generated on first start)")
	str(&c.NodePorts, "node-ports", d.NodePorts, "port range LO-HI for engine nodes and configuration endpoints")
	str(&c.NodeHost, "node-host", d.NodeHost, "address engines listen on and endpoints report")
	str(&c.NodeHostIPv6, "node-host-ipv6", d.NodeHostIPv6, "address endpoints report for clusters with IpDiscovery ipv6 (engines of ipv6 and dual_stack clusters listen on ::1)")
	str(&c.LogLevel, "log-level", d.LogLevel, "debug, info, warn or error")
	str(&c.MetricsListen, "metrics-listen", "", "address of the Prometheus metrics endpoint (GET /metrics: the nodes' metrics under CloudWatch's names), e.g. 127.0.0.1:9150 (default: none)")
	str(&c.Regions, "regions", "", "regions to serve beside ElastiCache's own, comma-separated, e.g. lab-1,lab-2 (requests signed for any other region are refused)")
	str(&c.S3Endpoint, "s3-endpoint", "", "URL of the S3-compatible object store that CopySnapshot --target-bucket exports to and SnapshotArns restore from, e.g. http://127.0.0.1:9000 (MinIO) or https://s3.us-east-1.amazonaws.com (default: none, export and import refused)")
	str(&c.S3Region, "s3-region", d.S3Region, "region requests to the object store are signed for")
	str(&c.S3AccessKeyID, "s3-access-key-id", "", "access key id for the object store (default: the AWS SDK's chain: AWS_ACCESS_KEY_ID, shared config files, instance role)")
	str(&c.S3SecretAccessKey, "s3-secret-access-key", "", "secret access key for the object store")
	s3Virtual := os.Getenv(env("s3-virtual-hosted")) == "true"
	fs.BoolVar(&c.S3VirtualHosted, "s3-virtual-hosted", s3Virtual, "address buckets as <bucket>.<endpoint host> instead of <endpoint>/<bucket> (env "+env("s3-virtual-hosted")+")")
	own := os.Getenv(env("own-addresses")) != "false"
	fs.BoolVar(&c.OwnAddresses, "own-addresses", own, "give each node of IPv4 clusters and groups (not durable ones) an address of its own on 127.0.0.0/8 (127.1.x.y), where it listens on the port asked for (6379, 11211) with a TLS certificate naming it, and each PrimaryEndpoint one that its primary's engine listens on, moved at failover: clients reach engines with no hop; needs --node-host on 127.0.0.0/8 (env "+env("own-addresses")+")")
	allowReset := os.Getenv(env("allow-reset")) == "true"
	fs.BoolVar(&c.AllowReset, "allow-reset", allowReset, "serve POST /_ecache/reset and POST /moto-api/reset (moto's), unauthenticated, which delete every resource, engine and file of every region and answer once they are gone: for test suites, never on a shared machine (env "+env("allow-reset")+")")
	num := func(p *int, name string, def int, usage string) {
		if v, err := strconv.Atoi(os.Getenv(env(name))); err == nil {
			def = v
		}
		fs.IntVar(p, name, def, usage+" (env "+env(name)+")")
	}
	num(&c.MaxClusters, "max-clusters", d.MaxClusters, "cache clusters per region (ClusterQuotaForCustomerExceeded)")
	num(&c.MaxNodes, "max-nodes", d.MaxNodes, "cache nodes per region (NodeQuotaForCustomerExceeded)")
	num(&c.MaxNodesPerCluster, "max-nodes-per-cluster", d.MaxNodesPerCluster, "nodes per Memcached cluster (NodeQuotaForClusterExceeded)")
	num(&c.MaxNodesPerGroup, "max-nodes-per-group", d.MaxNodesPerGroup, "nodes per cluster mode enabled replication group, up to 500 (NodeQuotaForClusterExceeded)")
	num(&c.MaxTags, "max-tags", d.MaxTags, "tags per resource (TagQuotaPerResourceExceeded)")
	num(&c.WarmEngines, "warm-engines", d.WarmEngines, "idle Valkey/Redis OSS engines of each kind (engine, cluster mode) kept started at addresses of 127.2.0.0/16, which new nodes take over instead of starting a process: a node is up in milliseconds, and a cluster-mode group skips the engines' 2-second wait before a new primary serves; 0 keeps none")
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
	c.PortLow, err1 = strconv.Atoi(lo)
	c.PortHigh, err2 = strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || c.PortLow < 1024 || c.PortHigh > 65535 || c.PortLow > c.PortHigh {
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
	for _, r := range c.ExtraRegions() {
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
