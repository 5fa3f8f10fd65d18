package awsquery

import (
	"net/url"
	"testing"
)

// FuzzDecoder feeds arbitrary form bodies through every typed read: no input may panic, and a
// value that decodes must round-trip through the same key.
func FuzzDecoder(f *testing.F) {
	for _, seed := range []string{
		"Action=CreateCacheCluster&CacheClusterId=demo&NumCacheNodes=3",
		"Tags.Tag.1.Key=a&Tags.Tag.1.Value=b&Tags.Tag.2.Key=c",
		"A.member.1.B.member.2=x&A=",
		"NumCacheNodes=99999999999&Flag=TRUE&T=2026-01-02T03:04:05Z",
		"%zz=1&a=%",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		values, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		d := NewDecoder(values)
		for key := range values {
			_ = d.Has(key)
			if s := d.String(key); s == nil || *s != values.Get(key) {
				t.Fatalf("String(%q) = %v, want %q", key, s, values.Get(key))
			}
			_ = d.Int32(key)
			_ = d.Bool(key)
			_ = d.Float64(key)
			_ = d.Time(key)
			_ = d.Enum(key, []string{"a", "b"})
			n, present := d.ListLen(key, "member")
			if !present || n < 0 || n > MaxListItems {
				t.Fatalf("ListLen(%q) = %d, %v", key, n, present)
			}
		}
		if d.Err() != nil {
			if _, ok := d.Err().(*Error); !ok {
				t.Fatalf("decoder error %T is not an *Error", d.Err())
			}
		}
	})
}
