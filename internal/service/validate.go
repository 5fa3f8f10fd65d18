package service

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/resource"
)

// validIdentifier applies ElastiCache's identifier rules: 1..max ASCII letters, digits and hyphens,
// first a letter, no trailing hyphen, no two consecutive hyphens. param is the name AWS's message uses.
func validIdentifier(param, id string, max int) error {
	if id == "" {
		return api.InvalidParameterValueException("The parameter %s must be provided and must not be blank.", param)
	}
	if len(id) > max {
		return api.InvalidParameterValueException("The parameter %s is not a valid identifier. Identifiers must be at most %d characters long.", param, max)
	}
	if !isLetter(id[0]) || id[len(id)-1] == '-' || strings.Contains(id, "--") || !lettersDigitsHyphens(id) {
		return api.InvalidParameterValueException("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
	}
	return nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// lettersDigitsHyphens reports whether s holds only ASCII letters, digits and hyphens.
func lettersDigitsHyphens(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

const minutesPerWeek = 7 * 24 * 60

// parseClock parses hh24:mi into minutes since midnight.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, false
	}
	return hh*60 + mm, true
}

// window is a weekly time range in minutes since Sunday midnight; end may wrap past the week.
type window struct{ start, length int }

// parseMaintenanceWindow checks ddd:hh24:mi-ddd:hh24:mi (UTC), at least 60 minutes and at most 24 hours.
func parseMaintenanceWindow(s string) (window, string, error) {
	start, length, ok := resource.ParseWeeklyWindow(s)
	if !ok {
		return window{}, "", api.InvalidParameterValueException("Invalid maintenance window %q: the format is ddd:hh24:mi-ddd:hh24:mi (UTC), for example sun:23:00-mon:01:30.", s)
	}
	if length < 60 || length > 24*60 {
		return window{}, "", api.InvalidParameterValueException("Invalid maintenance window %q: the window must last at least 60 minutes and at most 24 hours.", s)
	}
	return window{start, length}, strings.ToLower(s), nil
}

// parseSnapshotWindow checks hh24:mi-hh24:mi (UTC), at least 60 minutes.
func parseSnapshotWindow(s string) (start, length int, err error) {
	from, to, ok := strings.Cut(s, "-")
	a, okA := parseClock(from)
	b, okB := parseClock(to)
	if !ok || !okA || !okB {
		return 0, 0, api.InvalidParameterValueException("Invalid snapshot window %q: the format is hh24:mi-hh24:mi (UTC), for example 05:00-09:00.", s)
	}
	length = (b - a + 24*60) % (24 * 60)
	if length < 60 {
		return 0, 0, api.InvalidParameterValueException("Invalid snapshot window %q: the window must last at least 60 minutes.", s)
	}
	return a, length, nil
}

// windowsOverlap reports whether a daily snapshot window meets the weekly maintenance window.
func windowsOverlap(m window, snapStart, snapLen int) bool {
	overlap := func(a, alen, b, blen int) bool { return a < b+blen && b < a+alen }
	for day := range 8 { // the eighth day covers a maintenance window wrapping past Saturday
		s := day*24*60 + snapStart
		if overlap(m.start, m.length, s, snapLen) || overlap(m.start+minutesPerWeek, m.length, s, snapLen) {
			return true
		}
	}
	return false
}

// regionBlock is the 8-hour UTC block in which AWS picks default windows for a region.
func regionBlock(region string) int {
	blocks := map[string]int{
		"us-east-1": 3, "us-east-2": 4, "us-west-1": 6, "us-west-2": 6, "eu-west-1": 22, "eu-central-1": 23,
		"ap-northeast-1": 13, "ap-southeast-1": 14, "ap-southeast-2": 12, "sa-east-1": 1,
	}
	if h, ok := blocks[region]; ok {
		return h
	}
	return 3
}

func formatClock(min int) string {
	min = (min%(24*60) + 24*60) % (24 * 60)
	return fmt.Sprintf("%02d:%02d", min/60, min%60)
}

// defaultWindows picks a 60-minute weekly maintenance window on a random weekday and a daily 60-minute
// snapshot window, both inside the region's 8-hour block, on half or whole hours, not overlapping.
func defaultWindows(region string) (maintenance, snapshot string) {
	block := regionBlock(region) * 60
	slot := rand.IntN(14) // 30-minute slots in the block that leave room for 60 minutes
	start := block + slot*30
	day := rand.IntN(7)
	end := start + 60
	endDay := day + end/(24*60)
	maintenance = fmt.Sprintf("%s:%s-%s:%s", weekdays[day], formatClock(start), weekdays[endDay%7], formatClock(end))
	snapStart := block + ((slot+4)%14)*30 // two hours away within the block
	if (slot+4)%14 < slot+2 && (slot+4)%14 > slot-2 {
		snapStart = block + ((slot+8)%14)*30
	}
	snapshot = formatClock(snapStart) + "-" + formatClock(snapStart+60)
	return maintenance, snapshot
}

// validTags checks the tag rules shared by every taggable resource.
func validTags(tags []api.Tag, quota int) ([]resource.Tag, error) {
	out := make([]resource.Tag, 0, len(tags))
	for _, t := range tags {
		k := deref(t.Key)
		if k == "" {
			return nil, api.InvalidParameterValueException("Tag keys must not be empty.")
		}
		if len([]rune(k)) > 128 {
			return nil, api.InvalidParameterValueException("Tag key %q is longer than 128 characters.", k)
		}
		if len([]rune(deref(t.Value))) > 256 {
			return nil, api.InvalidParameterValueException("The value of tag %q is longer than 256 characters.", k)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, api.InvalidParameterValueException("Tag keys starting with aws: are reserved for AWS use.")
		}
		if slices.ContainsFunc(out, func(o resource.Tag) bool { return o.Key == k }) {
			return nil, api.InvalidParameterValueException("Tag key %q is given more than once.", k)
		}
		out = append(out, resource.Tag{Key: k, Value: deref(t.Value)})
	}
	if len(out) > quota {
		return nil, api.TagQuotaPerResourceExceeded("The request would give the resource %d tags; at most %d are allowed.", len(out), quota)
	}
	return out, nil
}

// mergeTag sets a tag, replacing one with the same key.
func mergeTag(tags []resource.Tag, t resource.Tag) []resource.Tag {
	for i := range tags {
		if tags[i].Key == t.Key {
			tags[i] = t
			return tags
		}
	}
	return append(tags, t)
}

// validAuthToken applies the AUTH token rules: 16-128 printable ASCII characters; the only special
// characters allowed are ! & # $ ^ < > -.
func validAuthToken(tok string) error {
	bad := len(tok) < 16 || len(tok) > 128
	for i := 0; !bad && i < len(tok); i++ {
		c := tok[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		bad = !alnum && !strings.ContainsRune("!&#$^<>-", rune(c))
	}
	if bad {
		return api.InvalidParameterValueException("Invalid AuthToken provided. The AUTH token must be 16 to 128 printable ASCII characters; the only special characters allowed are !, &, #, $, ^, <, >, and -.")
	}
	return nil
}
