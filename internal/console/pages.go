package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ecache/ecache/internal/api"
)

// overviewPage is everything the overview shows of one region.
type overviewPage struct {
	Region, CSRF, Error, Notice string
	Refresh                     int
	Groups                      []groupView
	Clusters                    []api.CacheCluster // those in no replication group
	Snapshots                   []api.Snapshot
	ParameterGroups             []api.CacheParameterGroup
	SubnetGroups                []api.CacheSubnetGroup
	Users                       []api.User
	UserGroups                  []api.UserGroup
	Events                      []api.Event
	Charts                      []nodeCharts
}

// groupView is a replication group with each member's node endpoint (cluster mode enabled groups report
// none in their node groups).
type groupView struct {
	api.ReplicationGroup
	NodeGroups []nodeGroupView
}

type nodeGroupView struct {
	ID, Slots, Status string
	Primary           string // the PrimaryEndpoint, host:port, when it has one
	Members           []memberView
}

type memberView struct {
	ClusterID, NodeID, Role, Endpoint, Status string
}

// overview shows the region's resources.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	rg, ok := c.region(r)
	if !ok {
		c.render(w, http.StatusBadRequest, "overview.html", overviewPage{Region: rg, CSRF: s.csrf, Error: "Region " + rg + " is not served."})
		return
	}
	c.sampleMetrics()
	page, err := c.read(c.inRegion(r.Context(), rg))
	page.Charts = c.charts(rg)
	page.Region, page.CSRF, page.Refresh, page.Notice = rg, s.csrf, refreshSeconds, r.FormValue("notice")
	if err != nil {
		page.Error = err.Error()
	}
	c.render(w, http.StatusOK, "overview.html", page)
}

// read gathers a region's resources through the service, as the API's Describe calls would (the first
// page of each: 100 items).
func (c *Console) read(ctx context.Context) (overviewPage, error) {
	var p overviewPage
	all, err := c.Service.DescribeCacheClusters(ctx, &api.DescribeCacheClustersMessage{ShowCacheNodeInfo: ptr(true)})
	if err != nil {
		return p, err
	}
	endpoints := map[string]string{}
	for _, cl := range all.CacheClusters {
		if len(cl.CacheNodes) > 0 && cl.CacheNodes[0].Endpoint != nil {
			endpoints[deref(cl.CacheClusterId)] = hostPort(cl.CacheNodes[0].Endpoint)
		}
		if cl.ReplicationGroupId == nil {
			p.Clusters = append(p.Clusters, cl)
		}
	}
	groups, err := c.Service.DescribeReplicationGroups(ctx, &api.DescribeReplicationGroupsMessage{})
	if err != nil {
		return p, err
	}
	for _, g := range groups.ReplicationGroups {
		v := groupView{ReplicationGroup: g}
		for _, ng := range g.NodeGroups {
			nv := nodeGroupView{ID: deref(ng.NodeGroupId), Slots: deref(ng.Slots), Status: deref(ng.Status), Primary: hostPort(ng.PrimaryEndpoint)}
			for _, m := range ng.NodeGroupMembers {
				id := deref(m.CacheClusterId)
				nv.Members = append(nv.Members, memberView{ClusterID: id, NodeID: deref(m.CacheNodeId), Role: deref(m.CurrentRole), Endpoint: endpoints[id]})
			}
			v.NodeGroups = append(v.NodeGroups, nv)
		}
		p.Groups = append(p.Groups, v)
	}
	snaps, err := c.Service.DescribeSnapshots(ctx, &api.DescribeSnapshotsMessage{})
	if err != nil {
		return p, err
	}
	p.Snapshots = snaps.Snapshots
	pgs, err := c.Service.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{})
	if err != nil {
		return p, err
	}
	p.ParameterGroups = pgs.CacheParameterGroups
	sgs, err := c.Service.DescribeCacheSubnetGroups(ctx, &api.DescribeCacheSubnetGroupsMessage{})
	if err != nil {
		return p, err
	}
	p.SubnetGroups = sgs.CacheSubnetGroups
	users, err := c.Service.DescribeUsers(ctx, &api.DescribeUsersMessage{})
	if err != nil {
		return p, err
	}
	p.Users = users.Users
	ugs, err := c.Service.DescribeUserGroups(ctx, &api.DescribeUserGroupsMessage{})
	if err != nil {
		return p, err
	}
	p.UserGroups = ugs.UserGroups
	events, err := c.Service.DescribeEvents(ctx, &api.DescribeEventsMessage{Duration: ptr(int32(24 * 60))})
	if err != nil {
		return p, err
	}
	p.Events = events.Events
	return p, nil
}

// action runs one of the console's actions and goes back to the overview with what came of it.
func (c *Console) action(w http.ResponseWriter, r *http.Request, s session) {
	if r.PostFormValue("csrf") != s.csrf {
		http.Error(w, "the form is stale: reload the page", http.StatusForbidden)
		return
	}
	rg, ok := c.region(r)
	if !ok {
		http.Error(w, "region not served", http.StatusBadRequest)
		return
	}
	ctx := c.inRegion(r.Context(), rg)
	var err error
	var notice string
	back := Prefix + "?" + url.Values{"region": {rg}}.Encode() // where the browser goes next
	switch kind := r.PostFormValue("action"); kind {
	case "test-failover":
		group, ng := r.PostFormValue("group"), r.PostFormValue("node_group")
		_, err = c.Service.TestFailover(ctx, &api.TestFailoverMessage{ReplicationGroupId: ptr(group), NodeGroupId: ptr(ng)})
		notice = fmt.Sprintf("TestFailover of %s node group %s started", group, ng)
	case "reboot":
		cluster, node := r.PostFormValue("cluster"), r.PostFormValue("node")
		_, err = c.Service.RebootCacheCluster(ctx, &api.RebootCacheClusterMessage{CacheClusterId: ptr(cluster), CacheNodeIdsToReboot: []string{node}})
		notice = fmt.Sprintf("Rebooting node %s of %s", node, cluster)
	case "snapshot":
		in := &api.CreateSnapshotMessage{SnapshotName: ptr(r.PostFormValue("name"))}
		if g := r.PostFormValue("group"); g != "" {
			in.ReplicationGroupId = ptr(g)
		} else {
			in.CacheClusterId = ptr(r.PostFormValue("cluster"))
		}
		_, err = c.Service.CreateSnapshot(ctx, in)
		notice = "Snapshot " + deref(in.SnapshotName) + " started"
	case "modify-parameter":
		group, name, value := r.PostFormValue("group"), r.PostFormValue("parameter"), r.PostFormValue("value")
		_, err = c.Service.ModifyCacheParameterGroup(ctx, &api.ModifyCacheParameterGroupMessage{CacheParameterGroupName: ptr(group),
			ParameterNameValues: []api.ParameterNameValue{{ParameterName: ptr(name), ParameterValue: ptr(value)}}})
		notice = fmt.Sprintf("Parameter %s of %s set to %s", name, group, value)
		back = parameterGroupPath(rg, group)
	default:
		http.Error(w, "unknown action "+kind, http.StatusBadRequest)
		return
	}
	if err != nil {
		notice = "Refused: " + err.Error()
	}
	c.Logger.Info("console action", "action", r.PostFormValue("action"), "region", rg, "result", notice)
	http.Redirect(w, r, back+"&"+url.Values{"notice": {notice}}.Encode(), http.StatusSeeOther)
}

// copiedNodeGroups counts the node groups of a snapshot whose data has been copied (they have a time).
func copiedNodeGroups(s api.Snapshot) int {
	n := 0
	for _, ns := range s.NodeSnapshots {
		if ns.SnapshotCreateTime != nil {
			n++
		}
	}
	return n
}

func hostPort(e *api.Endpoint) string {
	if e == nil || e.Address == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d", deref(e.Address), deref(e.Port))
}

func ptr[T any](v T) *T { return &v }
