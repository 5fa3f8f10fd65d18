package service

import (
	"reflect"

	"github.com/ecache/ecache/internal/api"
)

// identifierLimits are the longest values of the request members that name a resource, by member name:
// the model's rules where it states one, 255 for the other names. ValidateInput holds every request to them
// before any operation runs, so that an overlong name is refused as a bad parameter, never looked up.
var identifierLimits = map[string]int{
	"CacheClusterId":          maxClusterIDLen,
	"PrimaryClusterId":        maxClusterIDLen,
	"ReplicasToRemove":        maxClusterIDLen,
	"ReplicationGroupId":      maxReplicationGroupIDLen,
	"CacheParameterGroupName": maxParameterGroupNameLen,
	"CacheSubnetGroupName":    maxSubnetGroupNameLen,
	"CacheSecurityGroupName":  maxSecurityGroupNameLen,
	"CacheSecurityGroupNames": maxSecurityGroupNameLen,
	"SnapshotName":            maxSnapshotNameLen,
	"SourceSnapshotName":      maxSnapshotNameLen,
	"TargetSnapshotName":      maxSnapshotNameLen,
	"FinalSnapshotIdentifier": maxSnapshotNameLen,
}

// identifierParams are the names ElastiCache's messages give some members.
var identifierParams = map[string]string{"CacheClusterId": "CacheClusterIdentifier", "PrimaryClusterId": "PrimaryClusterIdentifier"}

// ValidateInput refuses, with InvalidParameterValue, a request whose resource names are longer than
// ElastiCache allows or whose Marker no call returned. in is the decoded input of any operation (a pointer
// to its message struct).
func (s *Service) ValidateInput(in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	if m := v.FieldByName("Marker"); m.IsValid() && m.Kind() == reflect.Pointer && !m.IsNil() && m.Elem().Kind() == reflect.String {
		if _, ok := decodeMarker(m.Elem().String()); !ok && m.Elem().String() != "" {
			return api.InvalidParameterValueException("The marker %q is not one that a previous call returned.", m.Elem().String())
		}
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		limit, ok := identifierLimits[name]
		if !ok {
			continue
		}
		for _, id := range identifierValues(v.Field(i)) {
			if len(id) > limit {
				param := name
				if p, ok := identifierParams[name]; ok {
					param = p
				}
				return api.InvalidParameterValueException("The parameter %s is not a valid identifier. Identifiers must be at most %d characters long.", param, limit)
			}
		}
	}
	return nil
}

// identifierValues are the strings of a *string or []string member.
func identifierValues(f reflect.Value) []string {
	switch {
	case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String:
		return []string{f.Elem().String()}
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		return f.Interface().([]string)
	}
	return nil
}
