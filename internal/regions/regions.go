// Package regions knows which regions a request may name: the ones where ElastiCache has an endpoint, and
// those an operator adds.
package regions

import (
	"slices"
	"strings"
)

// ElastiCache are the regions with an ElastiCache endpoint (the AWS SDK's endpoint table for the service:
// commercial, China, GovCloud, the isolated partitions and the European sovereign cloud).
var ElastiCache = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
	"ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1",
	"eu-central-1", "eu-central-2", "eu-isoe-west-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
	"eu-west-2", "eu-west-3", "eusc-de-east-1", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
	"sa-east-1", "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-iso-east-1", "us-iso-west-1",
	"us-isob-east-1", "us-isob-west-1", "us-isof-east-1", "us-isof-south-1", "us-west-1", "us-west-2",
}

// Set is the regions one ecache serves.
type Set struct{ names []string }

// New is ElastiCache's regions and the extra ones, which must be valid names (ValidName).
func New(extra ...string) Set {
	names := slices.Concat(ElastiCache, extra)
	slices.Sort(names)
	return Set{names: slices.Compact(names)}
}

// Has reports whether region is served.
func (s Set) Has(region string) bool {
	_, ok := slices.BinarySearch(s.names, region)
	return ok
}

// ValidName reports whether name has the shape of a region name: lowercase letters, digits and hyphens,
// starting with a letter, at most 64 characters.
func ValidName(name string) bool {
	if name == "" || len(name) > 64 || name[0] < 'a' || name[0] > 'z' || strings.HasSuffix(name, "-") {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
