package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/ecache/ecache/internal/service"
)

// TestNoServiceUpdatesNorReservedNodes: ecache has neither, and says so in the API's own terms. The lists
// are empty (not a 501); a named service update, reserved node or offering is the modelled not-found fault;
// MaxRecords is checked as everywhere.
func TestNoServiceUpdatesNorReservedNodes(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	c, ctx := p.client, ctxT(t)
	updates, err := c.DescribeServiceUpdates(ctx, &elasticache.DescribeServiceUpdatesInput{})
	if err != nil || updates.ServiceUpdates == nil || len(updates.ServiceUpdates) != 0 {
		t.Errorf("DescribeServiceUpdates: %+v, %v; want an empty list", updates, err)
	}
	actions, err := c.DescribeUpdateActions(ctx, &elasticache.DescribeUpdateActionsInput{ReplicationGroupIds: []string{"any"}})
	if err != nil || len(actions.UpdateActions) != 0 {
		t.Errorf("DescribeUpdateActions: %+v, %v; want an empty list", actions, err)
	}
	nodes, err := c.DescribeReservedCacheNodes(ctx, &elasticache.DescribeReservedCacheNodesInput{})
	if err != nil || len(nodes.ReservedCacheNodes) != 0 {
		t.Errorf("DescribeReservedCacheNodes: %+v, %v; want an empty list", nodes, err)
	}
	offerings, err := c.DescribeReservedCacheNodesOfferings(ctx, &elasticache.DescribeReservedCacheNodesOfferingsInput{CacheNodeType: aws.String("cache.r7g.large")})
	if err != nil || len(offerings.ReservedCacheNodesOfferings) != 0 {
		t.Errorf("DescribeReservedCacheNodesOfferings: %+v, %v; want an empty list", offerings, err)
	}

	runRules(t, p.store, []rule{
		{"a named service update", func() error {
			_, err := c.DescribeServiceUpdates(ctx, &elasticache.DescribeServiceUpdatesInput{ServiceUpdateName: aws.String("elasticache-20260101-001")})
			return err
		}, "ServiceUpdateNotFoundFault", 404},
		{"applying a service update", func() error {
			_, err := c.BatchApplyUpdateAction(ctx, &elasticache.BatchApplyUpdateActionInput{ServiceUpdateName: aws.String("elasticache-20260101-001"), ReplicationGroupIds: []string{"g"}})
			return err
		}, "ServiceUpdateNotFoundFault", 404},
		{"stopping a service update", func() error {
			_, err := c.BatchStopUpdateAction(ctx, &elasticache.BatchStopUpdateActionInput{ServiceUpdateName: aws.String("elasticache-20260101-001"), CacheClusterIds: []string{"c"}})
			return err
		}, "ServiceUpdateNotFoundFault", 404},
		{"applying without a service update name", func() error {
			_, err := c.BatchApplyUpdateAction(ctx, &elasticache.BatchApplyUpdateActionInput{ReplicationGroupIds: []string{"g"}})
			return err
		}, "MissingParameter", 400},
		{"a named reserved node", func() error {
			_, err := c.DescribeReservedCacheNodes(ctx, &elasticache.DescribeReservedCacheNodesInput{ReservedCacheNodeId: aws.String("mine")})
			return err
		}, "ReservedCacheNodeNotFound", 404},
		{"a named offering", func() error {
			_, err := c.DescribeReservedCacheNodesOfferings(ctx, &elasticache.DescribeReservedCacheNodesOfferingsInput{ReservedCacheNodesOfferingId: aws.String("438012d3-4052-4cc7-b2e3-8d3372e0e706")})
			return err
		}, "ReservedCacheNodesOfferingNotFound", 404},
		{"a purchase", func() error {
			_, err := c.PurchaseReservedCacheNodesOffering(ctx, &elasticache.PurchaseReservedCacheNodesOfferingInput{ReservedCacheNodesOfferingId: aws.String("438012d3-4052-4cc7-b2e3-8d3372e0e706")})
			return err
		}, "ReservedCacheNodesOfferingNotFound", 404},
		{"MaxRecords out of range", func() error {
			_, err := c.DescribeServiceUpdates(ctx, &elasticache.DescribeServiceUpdatesInput{MaxRecords: aws.Int32(5)})
			return err
		}, "InvalidParameterValue", 400},
	})
}
