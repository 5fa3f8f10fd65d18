// Package app assembles an ecache server from its parts (store, driver, service, controller, API handler,
// metrics, reset) and runs it: `ecache serve` and the ecachetest package both call Serve.
package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/atrest"
	"github.com/ecache/ecache/internal/certs"
	"github.com/ecache/ecache/internal/console"
	"github.com/ecache/ecache/internal/controller"
	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/driver/process"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/metrics"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/regions"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/server"
	"github.com/ecache/ecache/internal/service"
	"github.com/ecache/ecache/internal/sigv4"
	"github.com/ecache/ecache/internal/store"
)

// Config is everything an ecache server is told (`ecache serve` reads it from flags or ECACHE_* environment
// variables).
type Config struct {
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
	// AllowReset serves POST /_ecache/reset and POST /moto-api/reset, which delete everything.
	AllowReset bool

	MaxClusters, MaxNodes, MaxNodesPerCluster, MaxNodesPerGroup, MaxTags int

	// PortLow and PortHigh bound the node port range (NodePorts parsed).
	PortLow, PortHigh int
	// Executable runs the durability log replicas (`ecache txlog-replica`); empty: this process's own.
	Executable string
	// Ready, when set, is told where the server listens and how to sign for it once it does.
	Ready func(Info)
}

// DefaultConfig is what `ecache serve` runs with when no flag or environment variable says otherwise
// (its data dir aside).
func DefaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:8686", NodePorts: "31000-31999", PortLow: 31000, PortHigh: 31999, NodeHost: "127.0.0.1", NodeHostIPv6: "::1",
		LogLevel: "info", S3Region: "us-east-1", OwnAddresses: true, WarmEngines: 6,
		MaxClusters: 300, MaxNodes: 300, MaxNodesPerCluster: 40, MaxNodesPerGroup: 90, MaxTags: 50,
	}
}

// Info is where a running server listens and how to sign for it.
type Info struct {
	// Endpoint is the API's URL (http://127.0.0.1:8686).
	Endpoint                                string
	AccessKeyID, SecretAccessKey, AccountID string
	// CAFile is the CA certificate that nodes with in-transit encryption present certificates of.
	CAFile  string
	DataDir string
}

// NewLogger is a text logger at level (debug, info, warn or error) writing to w.
func NewLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// snapshotScheduleInterval is how often due automatic snapshots are taken and expired ones deleted.
const snapshotScheduleInterval = 10 * time.Second

// Serve builds every dependency and runs until ctx ends.
func Serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	logger, err := NewLogger(cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	creds, created, err := loadOrCreateCredentials(cfg)
	if err != nil {
		return err
	}
	st, err := store.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	drv, err := process.New(cfg.DataDir, logger)
	if err != nil {
		return err
	}
	defer drv.Close()
	warnEphemeralOverlap(cfg, logger)
	host := engineHost(logger)
	keepWarm(drv, cfg.WarmEngines, host, logger)

	var objects *objectstore.Store
	if cfg.S3Endpoint != "" {
		if objects, err = objectstore.New(ctx, objectstore.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region,
			AccessKeyID: cfg.S3AccessKeyID, SecretAccessKey: cfg.S3SecretAccessKey, VirtualHosted: cfg.S3VirtualHosted}); err != nil {
			return err
		}
		logger.Info("object store for snapshot export and restore", "endpoint", cfg.S3Endpoint)
	}
	svc := service.New(st, host, service.Config{
		AccountID: creds.AccountID, NodeHost: cfg.NodeHost, NodeHostIPv6: cfg.NodeHostIPv6, PortLow: cfg.PortLow, PortHigh: cfg.PortHigh,
		Quotas: service.Quotas{ClustersPerRegion: cfg.MaxClusters, NodesPerRegion: cfg.MaxNodes,
			NodesPerCluster: cfg.MaxNodesPerCluster, NodesPerGroup: cfg.MaxNodesPerGroup, TagsPerResource: cfg.MaxTags},
		PortFree: process.PortFree, Objects: objects, OwnAddresses: ownAddresses(cfg, logger), AddressFree: process.AddressFree,
	}, time.Now, logger)
	tlsFiles, err := certs.Ensure(filepath.Join(cfg.DataDir, "tls"), []string{cfg.NodeHost, cfg.NodeHostIPv6, "localhost"}, time.Now())
	if err != nil {
		return fmt.Errorf("TLS certificates: %w", err)
	}
	keys := atrest.Keyring{Dir: filepath.Join(cfg.DataDir, "keys")}
	if _, err := keys.Key(""); err != nil {
		return fmt.Errorf("at-rest encryption key: %w", err)
	}
	verifier := &sigv4.Verifier{Service: "elasticache", Lookup: func(id string) (string, bool) {
		return creds.SecretAccessKey, id == creds.AccessKeyID
	}, Region: regions.New(cfg.ExtraRegions()...).Has}
	ctl := controller.New(st, drv, process.Engines{Driver: drv}, host, controller.Config{NodeHost: cfg.NodeHost, NodeHostIPv6: cfg.NodeHostIPv6,
		AtRest: keys, IAM: verifier, Executable: cfg.Executable,
		Ports:       resource.Ports{Low: cfg.PortLow, High: cfg.PortHigh, Free: process.PortFree, AddressFree: process.AddressFree},
		TLS:         &driver.TLSFiles{CertFile: tlsFiles.CertFile, KeyFile: tlsFiles.KeyFile, CAFile: tlsFiles.CAFile},
		SnapshotDir: filepath.Join(cfg.DataDir, "snapshots"), Objects: objects, DurableDir: filepath.Join(cfg.DataDir, "durable"),
		Jobs: []controller.Job{{Name: "automatic snapshots", Every: snapshotScheduleInterval, Run: svc.TakeScheduledSnapshots}}}, logger)

	handler := &server.Handler{Service: svc, Auth: server.SigV4{Verifier: verifier}, Logger: logger}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	mux := withReset(handler, cfg.AllowReset, func(ctx context.Context) (map[string]int, error) {
		return reset(ctx, svc, ctl)
	}, logger)
	collector := metrics.NewCollector(ctl.MetricsTargets)
	defer collector.Close()
	mux.Handle(console.Prefix, &console.Console{Service: svc, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		Region: regions.New(cfg.ExtraRegions()...).Has, Logger: logger, Metrics: collector.Values})
	httpSrv := server.NewHTTPServer(mux, server.DefaultTimeouts)

	if created {
		fmt.Fprintf(stdout, "ecache: generated credentials (kept in %s/%s)\n", cfg.DataDir, credentialsFile)
	}
	fmt.Fprintf(stdout, "ecache: listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "  console: http://%s%s (sign in with the keys below)\n", ln.Addr(), console.Prefix)
	fmt.Fprintf(stdout, "  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n  account id %s, data dir %s, node ports %s\n  TLS nodes: trust %s\n",
		creds.AccessKeyID, creds.SecretAccessKey, creds.AccountID, cfg.DataDir, cfg.NodePorts, tlsFiles.CAFile)

	if cfg.Ready != nil {
		cfg.Ready(Info{Endpoint: "http://" + ln.Addr().String(), AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
			AccountID: creds.AccountID, CAFile: tlsFiles.CAFile, DataDir: cfg.DataDir})
	}
	stopMetrics, err := serveMetrics(cfg.MetricsListen, collector, stdout, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	ctlCtx, stopCtl := context.WithCancel(context.Background())
	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Run(ctlCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- httpSrv.Serve(ln) }()

	select {
	case <-ctx.Done():
		logger.Info("shutting down; engines keep running and are adopted on the next start")
	case err = <-srvDone:
		logger.Error("http server stopped", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	stopCtl()
	<-ctlDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// engineHost finds the engine binaries this host has, and logs them.
func engineHost(logger *slog.Logger) engine.Host {
	host := engine.DefaultHost()
	for _, b := range host.Binaries() {
		logger.Info("engine available", "engine", b.Engine, "binary", b.Path, "version", b.Version)
	}
	if len(host.Binaries()) == 0 {
		logger.Warn("no engine binaries found (valkey-server, redis-server, memcached); clusters cannot be created")
	}
	return host
}

// serveMetrics serves the nodes' metrics in the Prometheus format on addr (nothing when addr is empty) until
// stop is called.
func serveMetrics(addr string, collector *metrics.Collector, stdout io.Writer, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(collector))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "  metrics: http://%s/metrics\n", ln.Addr())
	return func() { _ = srv.Close() }, nil
}

// warnEphemeralOverlap warns when the node port range overlaps the kernel's ephemeral ports.
func warnEphemeralOverlap(cfg *Config, logger *slog.Logger) {
	if lo, hi, ok := ephemeralPorts(); ok && cfg.PortLow <= hi && cfg.PortHigh >= lo {
		logger.Warn("--node-ports overlaps the system's ephemeral port range: any outgoing connection may take a node's port",
			"node_ports", cfg.NodePorts, "ephemeral", fmt.Sprintf("%d-%d", lo, hi))
	}
}

// ephemeralPorts reads the range the kernel hands out for outgoing connections and port-0 listeners.
func ephemeralPorts() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0, 0, false
	}
	return lo, hi, true
}

// keepWarm has the driver keep size idle engines of each kind ahead of need (--warm-engines), Valkey's
// started at once, others once a node wants one; where 127.2.0.0/16 does not reach this host, none.
func keepWarm(drv *process.Driver, size int, host engine.Host, logger *slog.Logger) {
	if size > 0 && !process.AddressFree("127.2.0.1", 0) {
		logger.Warn("no warm engines: this host does not listen on 127.2.0.1")
		size = 0
	}
	var shapes []process.WarmShape
	for _, b := range host.Binaries() {
		if b.Engine == engine.EngineValkey {
			shapes = append(shapes, process.WarmShape{Engine: driver.EngineValkey, Binary: b.Path},
				process.WarmShape{Engine: driver.EngineValkey, Binary: b.Path, Cluster: true})
		}
	}
	if err := drv.KeepWarm(size, shapes); err != nil {
		logger.Warn("no warm engines", "err", err)
	}
}

// ownAddresses reports whether nodes get addresses of their own (--own-addresses): the node host must be on
// 127.0.0.0/8, which this host must route to itself whole (Linux does; other systems configure 127.0.0.1
// alone).
func ownAddresses(cfg *Config, logger *slog.Logger) bool {
	if !cfg.OwnAddresses {
		return false
	}
	if ip := net.ParseIP(cfg.NodeHost); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		logger.Info("nodes listen on the node host, on ports of the node range: --node-host is not on 127.0.0.0/8", "node_host", cfg.NodeHost)
		return false
	}
	if !process.AddressFree(resource.SlotAddress(0), 0) {
		logger.Warn("nodes listen on the node host, on ports of the node range: this host does not listen on 127.1.0.0")
		return false
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
func loadOrCreateCredentials(c *Config) (creds credentials, created bool, err error) {
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

// ExtraRegions are the names --regions lists.
func (c *Config) ExtraRegions() []string {
	var out []string
	for r := range strings.SplitSeq(c.Regions, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}
