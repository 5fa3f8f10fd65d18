package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/ecache/ecache/internal/api"
)

// parameterGroupPage shows one cache parameter group: its parameters as DescribeCacheParameters gives them,
// and the clusters that use it.
type parameterGroupPage struct {
	Region, CSRF, Error, Notice string
	Group                       api.CacheParameterGroup
	Parameters                  []api.Parameter
	Modifiable                  []string // names of the parameters the form may set
	UsedBy                      []string // cache clusters with this group
}

// parameterGroupList is what a table of parameter groups shows: the region's groups, defaults or not.
type parameterGroupList struct {
	Region string
	Groups []api.CacheParameterGroup
}

// parameterGroupRows picks of groups the default ones ("default.…", which cannot be changed) or the others.
func parameterGroupRows(region string, groups []api.CacheParameterGroup, defaults bool) parameterGroupList {
	out := parameterGroupList{Region: region}
	for _, g := range groups {
		if strings.HasPrefix(deref(g.CacheParameterGroupName), "default.") == defaults {
			out.Groups = append(out.Groups, g)
		}
	}
	return out
}

// parameterGroupPath is the page of parameter group name in region rg.
func parameterGroupPath(rg, name string) string {
	return Prefix + "parameter-group?" + url.Values{"region": {rg}, "name": {name}}.Encode()
}

// parameterGroup shows the parameter group ?name= of the region.
func (c *Console) parameterGroup(w http.ResponseWriter, r *http.Request, s session) {
	rg, ok := c.region(r)
	page := parameterGroupPage{Region: rg, CSRF: s.csrf, Notice: r.FormValue("notice")}
	if !ok {
		page.Error = "Region " + rg + " is not served."
		c.render(w, http.StatusBadRequest, "parameter_group.html", page)
		return
	}
	if err := c.readParameterGroup(c.inRegion(r.Context(), rg), r.FormValue("name"), &page); err != nil {
		page.Error = err.Error()
		c.render(w, http.StatusNotFound, "parameter_group.html", page)
		return
	}
	c.render(w, http.StatusOK, "parameter_group.html", page)
}

// readParameterGroup fills page with group name's description, every parameter (all pages of
// DescribeCacheParameters) and the clusters that use it.
func (c *Console) readParameterGroup(ctx context.Context, name string, page *parameterGroupPage) error {
	groups, err := c.Service.DescribeCacheParameterGroups(ctx, &api.DescribeCacheParameterGroupsMessage{CacheParameterGroupName: ptr(name)})
	if err != nil {
		return err
	}
	page.Group = groups.CacheParameterGroups[0]
	in := &api.DescribeCacheParametersMessage{CacheParameterGroupName: ptr(name), MaxRecords: ptr(int32(100))}
	for {
		out, err := c.Service.DescribeCacheParameters(ctx, in)
		if err != nil {
			return err
		}
		page.Parameters = append(page.Parameters, out.Parameters...)
		if out.Marker == nil || *out.Marker == "" {
			break
		}
		in.Marker = out.Marker
	}
	for _, p := range page.Parameters {
		if deref(p.IsModifiable) {
			page.Modifiable = append(page.Modifiable, deref(p.ParameterName))
		}
	}
	clusters, err := c.Service.DescribeCacheClusters(ctx, &api.DescribeCacheClustersMessage{})
	if err != nil {
		return err
	}
	for _, cl := range clusters.CacheClusters {
		if pg := cl.CacheParameterGroup; pg != nil && deref(pg.CacheParameterGroupName) == name {
			page.UsedBy = append(page.UsedBy, deref(cl.CacheClusterId))
		}
	}
	return nil
}
