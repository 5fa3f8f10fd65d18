// Package service implements api.Service: it validates requests, applies ElastiCache's defaults and rules,
// writes desired state to the store and renders resources back into API shapes. It never touches engines:
// internal/controller converges the world to what this package writes. It must not import net/http,
// encoding/xml or internal/driver.
package service

//go:generate go run ../../cmd/coverage -out ../../docs/COVERAGE.md

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/objectstore"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/view"
)

// Quotas are the account limits that AWS enforces per region.
type Quotas struct {
	ClustersPerRegion int // ClusterQuotaForCustomerExceeded
	NodesPerRegion    int // NodeQuotaForCustomerExceeded (AWS default 300)
	NodesPerCluster   int // NodeQuotaForClusterExceeded for Memcached (AWS default 40)
	// NodesPerGroup is the node quota of a cluster mode enabled group (AWS default 90, raised on request up
	// to 500: NodeQuotaForClusterExceeded and NodeGroupsPerReplicationGroupQuotaExceeded).
	NodesPerGroup   int
	TagsPerResource int // TagQuotaPerResourceExceeded (50)
}

// DefaultQuotas are AWS's published defaults.
func DefaultQuotas() Quotas {
	return Quotas{ClustersPerRegion: 300, NodesPerRegion: 300, NodesPerCluster: 40, NodesPerGroup: 90, TagsPerResource: 50}
}

// Config is what the service needs to know about its deployment.
type Config struct {
	AccountID string
	// NodeHost is the address clients use to reach nodes (engines listen on it).
	NodeHost string
	// NodeHostIPv6 is the address clients reach the nodes of clusters with IpDiscovery ipv6 at (default
	// ::1).
	NodeHostIPv6 string
	// PortLow and PortHigh bound the ports given to nodes and configuration endpoints.
	PortLow, PortHigh int
	Quotas            Quotas
	// PortFree reports whether a port can be bound now; ports in use by other programs are skipped.
	PortFree func(port int) bool
	// OwnAddresses gives the nodes of IPv4 clusters and groups (but durable ones) an
	// address of their own, where they listen on the port asked for (see resource.SlotAddress); it needs
	// NodeHost to be an IPv4 loopback address.
	OwnAddresses bool
	// AddressFree reports whether port can be bound now at addr (nil: always).
	AddressFree func(addr string, port int) bool
	// Objects is the S3-compatible object store that snapshots are exported to and restored from; nil
	// when none is configured.
	Objects *objectstore.Store
}

// Service implements api.Service.
type Service struct {
	api.Unimplemented
	store  store.Store
	view   *view.View // what the Describe operations read
	host   engine.Host
	cfg    Config
	now    func() time.Time
	logger *slog.Logger
}

// New returns a Service over st that offers the engines host can run.
func New(st store.Store, host engine.Host, cfg Config, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.PortFree == nil {
		cfg.PortFree = func(int) bool { return true }
	}
	if cfg.NodeHostIPv6 == "" {
		cfg.NodeHostIPv6 = "::1"
	}
	if cfg.AddressFree == nil {
		cfg.AddressFree = func(string, int) bool { return true }
	}
	return &Service{store: st, view: view.New(st), host: host, cfg: cfg, now: now, logger: logger}
}

var _ api.Service = (*Service)(nil)

// nodeHost is the address the nodes and endpoints of a cluster or group with ipDiscovery are reached at.
func (s *Service) nodeHost(ipDiscovery string) string {
	return resource.Hosts{IPv4: s.cfg.NodeHost, IPv6: s.cfg.NodeHostIPv6}.For(ipDiscovery)
}

// region is the caller's region; requests without one (tests) use us-east-1.
func region(ctx context.Context) string {
	if r := api.CallerFrom(ctx).Region; r != "" {
		return r
	}
	return "us-east-1"
}

// arn builds an ElastiCache ARN for a regional resource.
func (s *Service) arn(region, kind, id string) string {
	return fmt.Sprintf("arn:aws:elasticache:%s:%s:%s:%s", region, s.cfg.AccountID, kind, id)
}

// internal wraps an unexpected error; the server logs it and answers InternalFailure.
func internal(op string, err error) error {
	return fmt.Errorf("%s: %w", op, err)
}

// faultOrInternal passes modelled faults through and wraps anything else as an internal error of op.
func faultOrInternal(op string, err error) error {
	if err == nil || api.IsFault(err) {
		return err
	}
	return internal(op, err)
}

func newUID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
