package awsquery

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxListItems bounds the number of items decoded for one list parameter.
const MaxListItems = 1000

// Decoder reads typed values out of Query protocol form parameters ("A.B.member.1.C=v").
// The first error is kept and reported by Err; later reads still return values so generated
// decoders can run to the end without checks after each member.
type Decoder struct {
	values   url.Values
	prefixes map[string]struct{}
	err      error
}

// NewDecoder indexes values for prefix look-ups.
func NewDecoder(values url.Values) *Decoder {
	d := &Decoder{values: values, prefixes: make(map[string]struct{}, len(values)*2)}
	for key := range values {
		for i := range len(key) {
			if key[i] == '.' {
				d.prefixes[key[:i]] = struct{}{}
			}
		}
		d.prefixes[key] = struct{}{}
	}
	return d
}

// Join builds a parameter name from a prefix and a member name.
func Join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Has reports whether key is a parameter or the prefix of one.
func (d *Decoder) Has(key string) bool {
	_, ok := d.prefixes[key]
	return ok
}

// raw returns the single value of key.
func (d *Decoder) raw(key string) (string, bool) {
	vs, ok := d.values[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// String returns the value of key, or nil when absent.
func (d *Decoder) String(key string) *string {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	return &v
}

// Enum returns the value of key and checks it against the allowed values.
func (d *Decoder) Enum(key string, allowed []string) *string {
	v := d.String(key)
	if v != nil && !slices.Contains(allowed, *v) {
		d.fail(InvalidParameterValue(fmt.Sprintf("Invalid value '%s' for %s. Valid values: %s.",
			*v, key, strings.Join(allowed, ", "))))
	}
	return v
}

// Int32 returns the integer value of key, or nil when absent.
func (d *Decoder) Int32(key string) *int32 {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		d.fail(InvalidParameterValue(fmt.Sprintf("Invalid value '%s' for %s: an integer is required.", v, key)))
		return nil
	}
	i := int32(n)
	return &i
}

// Float64 returns the floating-point value of key, or nil when absent.
func (d *Decoder) Float64(key string) *float64 {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		d.fail(InvalidParameterValue(fmt.Sprintf("Invalid value '%s' for %s: a number is required.", v, key)))
		return nil
	}
	return &f
}

// Bool returns the boolean value of key ("true"/"false", any case), or nil when absent.
func (d *Decoder) Bool(key string) *bool {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	var b bool
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		b = true
	case "false":
	default:
		d.fail(InvalidParameterValue(fmt.Sprintf("Invalid value '%s' for %s: true or false is required.", v, key)))
		return nil
	}
	return &b
}

// Time returns the ISO 8601 timestamp of key (RFC 3339, with or without fractional seconds,
// or epoch seconds), or nil when absent.
func (d *Decoder) Time(key string) *time.Time {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t
		}
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		t := time.Unix(0, int64(secs*1e9)).UTC()
		return &t
	}
	d.fail(InvalidParameterValue(fmt.Sprintf("Invalid value '%s' for %s: an ISO 8601 timestamp is required.", v, key)))
	return nil
}

// ListLen returns how many items the list at key holds, items being named key.item.1, key.item.2, ...
// present reports whether the list was sent at all (an empty list is sent as "key=").
func (d *Decoder) ListLen(key, item string) (n int, present bool) {
	if !d.Has(key) {
		return 0, false
	}
	base := Join(key, item)
	for n < MaxListItems && d.Has(base+"."+strconv.Itoa(n+1)) {
		n++
	}
	return n, true
}

// Required records a MissingParameter error when a required member is absent.
func (d *Decoder) Required(key string, present bool) {
	if !present {
		d.fail(MissingParameter(key))
	}
}
