// Package iamauth checks ElastiCache IAM authentication tokens: a SigV4-presigned request
// `GET http://<cache name>/?Action=connect&User=<user>&X-Amz-...` for the service elasticache, valid at
// most 15 minutes, which a client gives as the password of AUTH <user> <token>.
package iamauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ecache/ecache/internal/sigv4"
)

// MaxExpiry is the longest validity ElastiCache takes from a token (X-Amz-Expires), in seconds.
const MaxExpiry = 900

// ErrNotAToken is the error of a password that is no presigned connect request at all.
var ErrNotAToken = errors.New("not an IAM authentication token")

// Check verifies that token is a connect request for user to the cache named cacheName, signed with a key
// v knows, for region, and not expired.
func Check(v *sigv4.Verifier, token, user, cacheName, region string) error {
	u, err := url.Parse("http://" + strings.TrimPrefix(strings.TrimPrefix(token, "https://"), "http://"))
	if err != nil || u.RawQuery == "" {
		return ErrNotAToken
	}
	q := u.Query()
	switch {
	case q.Get("Action") != "connect":
		return fmt.Errorf("%w: Action is %q, not connect", ErrNotAToken, q.Get("Action"))
	case q.Get("User") != user:
		return fmt.Errorf("the token is for user %q, not %q", q.Get("User"), user)
	case !strings.EqualFold(u.Hostname(), cacheName):
		return fmt.Errorf("the token is for cache %q, not %q", u.Hostname(), cacheName)
	}
	if exp, err := strconv.Atoi(q.Get("X-Amz-Expires")); err != nil || exp <= 0 || exp > MaxExpiry {
		return fmt.Errorf("X-Amz-Expires %q: a token is valid for at most %d seconds", q.Get("X-Amz-Expires"), MaxExpiry)
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return ErrNotAToken
	}
	res, err := v.Verify(req, nil)
	if err != nil {
		return err
	}
	if res.Region != region {
		return fmt.Errorf("the token is signed for region %s, not %s", res.Region, region)
	}
	return nil
}
