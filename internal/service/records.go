package service

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
	"github.com/ecache/ecache/internal/store"
	"github.com/ecache/ecache/internal/view"
)

// Record helpers shared by every operation: typed reads and writes, region filters, quotas, ports and
// pagination.

// getRecord reads a record inside a transaction; a missing one is the error notFound returns.
func getRecord[T any](tx store.Tx, kind, key string, notFound func() error) (*T, store.Object, error) {
	v, obj, err := resource.Get[T](tx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, obj, notFound()
	}
	return v, obj, err
}

// putCluster overwrites a cache cluster record at its current revision.
func putCluster(tx store.Tx, c *resource.Cluster) error {
	obj, err := tx.Get(resource.KindCluster, resource.Key(c.Region, c.ID))
	if err != nil {
		return err
	}
	_, err = tx.Put(resource.KindCluster, obj.Key, resource.Marshal(c), obj.Revision)
	return err
}

// loadClusters decodes every cache cluster of every region.
func loadClusters(tx store.Tx) ([]*resource.Cluster, error) {
	return resource.List[resource.Cluster](tx, resource.KindCluster)
}

// checkQuotas refuses a new cluster of newNodes nodes past the region's cluster or node quota.
func (s *Service) checkQuotas(all []*resource.Cluster, rg string, newNodes int) error {
	clusters, nodes := 0, 0
	for _, c := range all {
		if c.Region == rg {
			clusters++
			nodes += len(c.Nodes)
		}
	}
	if clusters >= s.cfg.Quotas.ClustersPerRegion {
		return api.ClusterQuotaForCustomerExceededFault("You have reached the quota of %d cache clusters in this region.", s.cfg.Quotas.ClustersPerRegion)
	}
	if nodes+newNodes > s.cfg.Quotas.NodesPerRegion {
		return api.NodeQuotaForCustomerExceededFault("Customer node quota exceeded. You can have at most %d nodes in this region", s.cfg.Quotas.NodesPerRegion)
	}
	return nil
}

// checkNodeQuota refuses a request that would take the region past its node quota.
func (s *Service) checkNodeQuota(all []*resource.Cluster, rg string, add int) error {
	nodes := 0
	for _, o := range all {
		if o.Region == rg {
			nodes += len(o.Nodes)
		}
	}
	if nodes+add > s.cfg.Quotas.NodesPerRegion {
		return api.NodeQuotaForCustomerExceededFault("Customer node quota exceeded. You can have at most %d nodes in this region", s.cfg.Quotas.NodesPerRegion)
	}
	return nil
}

// allocatePorts picks n ports of the node range that no cluster holds and that are free on this host.
func (s *Service) allocatePorts(tx store.Tx, n int) ([]int, error) {
	ports, ok, err := resource.Ports{Low: s.cfg.PortLow, High: s.cfg.PortHigh, Free: s.cfg.PortFree}.Allocate(tx, n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.InsufficientCacheClusterCapacityFault("There is not enough capacity for %d more cache nodes: the node port range %d-%d is exhausted.", n, s.cfg.PortLow, s.cfg.PortHigh)
	}
	return ports, nil
}

// maxRecords applies the Describe* MaxRecords rule: default 100, 20 to 100.
func maxRecords(p *int32) (int, error) {
	if p == nil {
		return 100, nil
	}
	if *p < 20 || *p > 100 {
		return 0, api.InvalidParameterValueException("MaxRecords must be between 20 and 100.")
	}
	return int(*p), nil
}

// paginate returns the items after marker (an item key) and the marker of the next page, if any.
func paginate[T any](items []T, key func(T) string, marker string, max int) ([]T, *string) {
	start := 0
	if marker, _ = decodeMarker(marker); marker != "" {
		start = len(items)
		for i, it := range items {
			if key(it) > marker {
				start = i
				break
			}
		}
	}
	items = items[start:]
	if len(items) > max {
		next := encodeMarker(key(items[max-1]))
		return items[:max], &next
	}
	return items, nil
}

// Markers are opaque to clients, as ElastiCache's are: the key of a page's last item, encoded, so that
// one no call returned is told apart (ValidateInput refuses it).
const markerPrefix = "ecache1:"

func encodeMarker(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(markerPrefix + key))
}

// decodeMarker gives the key a marker holds; ok is false for a string no call returned.
func decodeMarker(m string) (key string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), markerPrefix)
}

// countInRegion counts the objects of region rg (keys are region/name) that keep reports true; nil keeps all.
func countInRegion(objs []store.Object, rg string, keep func(store.Object) bool) int {
	n := 0
	for _, o := range objs {
		if strings.HasPrefix(o.Key, rg+"/") && (keep == nil || keep(o)) {
			n++
		}
	}
	return n
}

// clusterUsing returns the id of the first cache cluster of region rg for which uses is true, or "".
func clusterUsing(tx store.Tx, rg string, uses func(*resource.Cluster) bool) (string, error) {
	all, err := loadClusters(tx)
	if err != nil {
		return "", err
	}
	for _, c := range all {
		if c.Region == rg && uses(c) {
			return c.ID, nil
		}
	}
	return "", nil
}

// regionList is the region's records of kind as the Describe operations read them: decoded once per
// revision and shared (callers must not modify them), those keep reports true (nil: all), with the
// page size MaxRecords asks for.
func regionList[T any](ctx context.Context, v *view.View, op, kind string, maxRecs *int32, keep func(*T) bool) ([]*T, int, error) {
	recs, max, err := regionView[T](ctx, v, op, kind, maxRecs)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*T, 0, len(recs))
	for _, r := range recs {
		if keep == nil || keep(r.Value) {
			out = append(out, r.Value)
		}
	}
	return out, max, nil
}

// regionView is the region's records of kind from the view, with the page size MaxRecords asks for.
func regionView[T any](ctx context.Context, v *view.View, op, kind string, maxRecs *int32) ([]*view.Record[T], int, error) {
	max, err := maxRecords(maxRecs)
	if err != nil {
		return nil, 0, err
	}
	recs, err := view.List[T](ctx, v, kind, region(ctx)+"/")
	if err != nil {
		return nil, 0, internal(op, err)
	}
	return recs, max, nil
}

// renderPage is one Describe* page: the items after marker, at most max, rendered, and the marker of the
// next page. The list is never nil, so that an empty one is written as an empty element.
func renderPage[T, R any](items []*T, key func(*T) string, marker *string, max int, render func(*T) R) ([]R, *string) {
	page, next := paginate(items, key, deref(marker), max)
	out := make([]R, 0, len(page))
	for _, v := range page {
		out = append(out, render(v))
	}
	return out, next
}

// createNamed stores a new named record (a parameter, subnet or security group) of region rg inside tx,
// refused with taken when the name exists and with full when the region already holds quota records that
// count (nil: all).
func createNamed(tx store.Tx, kind, rg, name string, v any, quota int, counts func(store.Object) bool, taken, full error) error {
	objs, err := tx.List(kind)
	if err != nil {
		return err
	}
	key := resource.Key(rg, name)
	if countInRegion(objs, rg, func(o store.Object) bool { return o.Key == key }) > 0 {
		return taken
	}
	if countInRegion(objs, rg, counts) >= quota {
		return full
	}
	_, err = tx.Create(kind, key, resource.Marshal(v))
	return err
}
