package service

import (
	"cmp"
	"slices"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/resource"
)

const clientDownloadLandingPage = "https://console.aws.amazon.com/elasticache/home#client-download:"

// renderCluster builds the CacheCluster shape; nodes are listed when showNodes is set.
func (s *Service) renderCluster(c *resource.Cluster, showNodes bool) *api.CacheCluster {
	out := &api.CacheCluster{
		ARN:                                ptr(s.arn(c.Region, "cluster", c.ID)),
		AtRestEncryptionEnabled:            ptr(c.AtRestEncryption),
		AuthTokenEnabled:                   ptr(c.AuthToken != ""),
		AuthTokenLastModifiedDate:          c.AuthTokenUpdatedAt,
		AutoMinorVersionUpgrade:            ptr(c.AutoMinorVersionUpgrade),
		CacheClusterCreateTime:             ptr(c.CreatedAt),
		CacheClusterId:                     ptr(c.ID),
		CacheClusterStatus:                 ptr(clusterStatus(c)),
		CacheNodeType:                      ptr(c.NodeType),
		ClientDownloadLandingPage:          ptr(clientDownloadLandingPage),
		Engine:                             ptr(c.Engine),
		EngineVersion:                      ptr(c.EngineVersion),
		IpDiscovery:                        ptr(c.IPDiscovery),
		NetworkType:                        ptr(c.NetworkType),
		NumCacheNodes:                      ptr(int32(activeNodes(c))),
		PreferredAvailabilityZone:          ptr(c.PreferredAZ),
		PreferredMaintenanceWindow:         ptr(c.MaintenanceWindow),
		TransitEncryptionEnabled:           ptr(c.TransitEncryption),
		ReplicationGroupLogDeliveryEnabled: ptr(false),
		CacheSecurityGroups:                []api.CacheSecurityGroupMembership{},
		SecurityGroups:                     []api.SecurityGroupMembership{},
		LogDeliveryConfigurations:          []api.LogDeliveryConfiguration{},
		PendingModifiedValues:              renderPending(c),
		CacheParameterGroup: &api.CacheParameterGroupStatus{
			CacheParameterGroupName: ptr(c.ParameterGroup),
			ParameterApplyStatus:    ptr(c.ParameterApplyStatus),
			CacheNodeIdsToReboot:    []string{},
		},
	}
	for _, n := range c.Nodes {
		if n.ParameterStatus == "pending-reboot" {
			out.CacheParameterGroup.CacheNodeIdsToReboot = append(out.CacheParameterGroup.CacheNodeIdsToReboot, n.ID)
		}
	}
	out.CacheSubnetGroupName, out.PreferredOutpostArn = optional(c.SubnetGroup), optional(c.PreferredOutpostARN)
	out.ReplicationGroupId = optional(c.ReplicationGroupID)
	if c.TransitEncryption {
		out.TransitEncryptionMode = ptr(cmp.Or(c.TransitEncryptionMode, resource.TransitRequired))
	}
	if c.Engine != engine.EngineMemcached {
		out.SnapshotRetentionLimit = ptr(c.SnapshotRetentionLimit)
		out.SnapshotWindow = ptr(c.SnapshotWindow)
	}
	if c.NotificationTopicARN != "" {
		out.NotificationConfiguration = &api.NotificationConfiguration{TopicArn: ptr(c.NotificationTopicARN), TopicStatus: ptr(c.NotificationTopicStatus)}
	}
	for _, n := range c.SecurityGroupNames {
		out.CacheSecurityGroups = append(out.CacheSecurityGroups, api.CacheSecurityGroupMembership{CacheSecurityGroupName: ptr(n), Status: ptr("active")})
	}
	for _, id := range c.SecurityGroupIDs {
		out.SecurityGroups = append(out.SecurityGroups, api.SecurityGroupMembership{SecurityGroupId: ptr(id), Status: ptr("active")})
	}
	out.LogDeliveryConfigurations = renderLogDelivery(c.LogDelivery)
	if c.Engine == engine.EngineMemcached && c.ConfigPort != 0 {
		out.ConfigurationEndpoint = &api.Endpoint{Address: ptr(s.nodeHost(c.IPDiscovery)), Port: ptr(int32(c.ConfigPort))}
	}
	if showNodes {
		out.CacheNodes = []api.CacheNode{}
		for _, n := range c.Nodes {
			node := api.CacheNode{
				CacheNodeId:              ptr(n.ID),
				CacheNodeStatus:          ptr(n.Status),
				CacheNodeCreateTime:      ptr(n.CreatedAt),
				ParameterGroupStatus:     ptr(nodeParameterStatus(n)),
				CustomerAvailabilityZone: ptr(n.AZ),
				CustomerOutpostArn:       optional(c.PreferredOutpostARN),
			}
			if n.Status != resource.NodeCreating {
				node.Endpoint = &api.Endpoint{Address: ptr(n.Host(s.nodeHost(c.IPDiscovery))), Port: ptr(int32(n.Port))}
			}
			out.CacheNodes = append(out.CacheNodes, node)
		}
	}
	return out
}

func nodeParameterStatus(n resource.Node) string {
	if n.ParameterStatus != "" {
		return n.ParameterStatus
	}
	return "in-sync"
}

// activeNodes counts the nodes the cluster has now: new nodes count once the scale-out finished.
func activeNodes(c *resource.Cluster) int {
	if c.Status == resource.StatusCreating {
		return len(c.Nodes)
	}
	n := 0
	for _, node := range c.Nodes {
		if node.Status != resource.NodeCreating || c.Pending.NumNodes == nil {
			n++
		}
	}
	return n
}

func renderPending(c *resource.Cluster) *api.PendingModifiedValues {
	p := &api.PendingModifiedValues{}
	if c.Pending.NumNodes != nil {
		p.NumCacheNodes = c.Pending.NumNodes
	}
	if len(c.Pending.NodeIDsToRemove) > 0 {
		p.CacheNodeIdsToRemove = slices.Clone(c.Pending.NodeIDsToRemove)
	}
	if c.Pending.EngineVersion != "" {
		p.EngineVersion = ptr(c.Pending.EngineVersion)
	}
	if c.Pending.NodeType != "" {
		p.CacheNodeType = ptr(c.Pending.NodeType)
	}
	if c.Pending.AuthTokenStatus != "" {
		p.AuthTokenStatus = ptr(c.Pending.AuthTokenStatus)
	}
	return p
}

// renderLogDelivery is the LogDeliveryConfigurations of a cluster or group (never nil).
func renderLogDelivery(logs []resource.LogDelivery) []api.LogDeliveryConfiguration {
	out := make([]api.LogDeliveryConfiguration, 0, len(logs))
	for _, l := range logs {
		ld := api.LogDeliveryConfiguration{
			LogType: ptr(l.LogType), DestinationType: ptr(l.DestinationType), LogFormat: ptr(l.LogFormat),
			DestinationDetails: &api.DestinationDetails{},
			// ecache keeps engine logs in the node directory; it has no CloudWatch or Firehose to send them to.
			Status:  ptr("error"),
			Message: ptr("ecache does not deliver logs to " + l.DestinationType + "; the engine log stays in the node directory."),
		}
		if l.LogGroup != "" {
			ld.DestinationDetails.CloudWatchLogsDetails = &api.CloudWatchLogsDestinationDetails{LogGroup: ptr(l.LogGroup)}
		} else {
			ld.DestinationDetails.KinesisFirehoseDetails = &api.KinesisFirehoseDestinationDetails{DeliveryStream: ptr(l.DeliveryStream)}
		}
		out = append(out, ld)
	}
	return out
}
