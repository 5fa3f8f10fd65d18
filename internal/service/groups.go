package service

import (
	"strings"

	"github.com/ecache/ecache/internal/engine"
	"github.com/ecache/ecache/internal/store"
)

// parameterGroupRef is what a cluster needs to know about a parameter group.
type parameterGroupRef struct {
	Name           string
	Family         string
	ClusterEnabled bool
	Default        bool
}

// defaultParameterGroup finds one of the default groups every account has.
func defaultParameterGroup(name string) (parameterGroupRef, bool) {
	for _, g := range engine.DefaultParameterGroups() {
		if g.Name == name {
			return parameterGroupRef{Name: g.Name, Family: g.Family, ClusterEnabled: g.ClusterMode, Default: true}, true
		}
	}
	return parameterGroupRef{}, false
}

// lookupParameterGroup resolves a default or user parameter group by name (stored lowercase).
func lookupParameterGroup(tx store.Tx, rg, name string) (parameterGroupRef, error) {
	name = strings.ToLower(name)
	if g, ok := defaultParameterGroup(name); ok {
		return g, nil
	}
	pg, _, err := getParameterGroup(tx.Get, rg, name)
	if err != nil {
		return parameterGroupRef{}, err
	}
	return parameterGroupRef{Name: pg.Name, Family: pg.Family, ClusterEnabled: clusterMode(pg.Values)}, nil
}
