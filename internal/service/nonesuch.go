package service

import (
	"context"

	"github.com/ecache/ecache/internal/api"
)

// ecache publishes no service updates and sells no reserved cache nodes: the engines it runs are the
// binaries installed on its host, and nothing is billed. These calls answer as ElastiCache does for an
// account with none of either: empty lists, and the modelled not-found fault for anything named.

// DescribeServiceUpdates lists no service updates; a named one is not found.
func (s *Service) DescribeServiceUpdates(_ context.Context, in *api.DescribeServiceUpdatesMessage) (*api.ServiceUpdatesMessage, error) {
	if _, err := maxRecords(in.MaxRecords); err != nil {
		return nil, err
	}
	if in.ServiceUpdateName != nil {
		return nil, serviceUpdateNotFound(*in.ServiceUpdateName)
	}
	return &api.ServiceUpdatesMessage{ServiceUpdates: []api.ServiceUpdate{}}, nil
}

// DescribeUpdateActions lists no update actions: without service updates there are none to apply.
func (s *Service) DescribeUpdateActions(_ context.Context, in *api.DescribeUpdateActionsMessage) (*api.UpdateActionsMessage, error) {
	if _, err := maxRecords(in.MaxRecords); err != nil {
		return nil, err
	}
	return &api.UpdateActionsMessage{UpdateActions: []api.UpdateAction{}}, nil
}

// BatchApplyUpdateAction names a service update, which cannot exist here.
func (s *Service) BatchApplyUpdateAction(_ context.Context, in *api.BatchApplyUpdateActionMessage) (*api.UpdateActionResultsMessage, error) {
	return nil, serviceUpdateNotFound(deref(in.ServiceUpdateName))
}

// BatchStopUpdateAction names a service update, which cannot exist here.
func (s *Service) BatchStopUpdateAction(_ context.Context, in *api.BatchStopUpdateActionMessage) (*api.UpdateActionResultsMessage, error) {
	return nil, serviceUpdateNotFound(deref(in.ServiceUpdateName))
}

func serviceUpdateNotFound(name string) error {
	return api.ServiceUpdateNotFoundFault("Service update %s not found: ecache publishes no service updates (its engines are the binaries installed on its host).", name)
}

// DescribeReservedCacheNodes lists no reserved cache nodes; a named one is not found.
func (s *Service) DescribeReservedCacheNodes(_ context.Context, in *api.DescribeReservedCacheNodesMessage) (*api.ReservedCacheNodeMessage, error) {
	if _, err := maxRecords(in.MaxRecords); err != nil {
		return nil, err
	}
	if in.ReservedCacheNodeId != nil {
		return nil, api.ReservedCacheNodeNotFoundFault("Reserved cache node %s not found: ecache sells no reserved cache nodes.", *in.ReservedCacheNodeId)
	}
	return &api.ReservedCacheNodeMessage{ReservedCacheNodes: []api.ReservedCacheNode{}}, nil
}

// DescribeReservedCacheNodesOfferings lists no offerings; a named one is not found.
func (s *Service) DescribeReservedCacheNodesOfferings(_ context.Context, in *api.DescribeReservedCacheNodesOfferingsMessage) (*api.ReservedCacheNodesOfferingMessage, error) {
	if _, err := maxRecords(in.MaxRecords); err != nil {
		return nil, err
	}
	if in.ReservedCacheNodesOfferingId != nil {
		return nil, offeringNotFound(*in.ReservedCacheNodesOfferingId)
	}
	return &api.ReservedCacheNodesOfferingMessage{ReservedCacheNodesOfferings: []api.ReservedCacheNodesOffering{}}, nil
}

// PurchaseReservedCacheNodesOffering names an offering, which cannot exist here.
func (s *Service) PurchaseReservedCacheNodesOffering(_ context.Context, in *api.PurchaseReservedCacheNodesOfferingMessage) (*api.PurchaseReservedCacheNodesOfferingResult, error) {
	return nil, offeringNotFound(deref(in.ReservedCacheNodesOfferingId))
}

func offeringNotFound(id string) error {
	return api.ReservedCacheNodesOfferingNotFoundFault("Reserved cache nodes offering %s not found: ecache sells no reserved cache nodes.", id)
}
