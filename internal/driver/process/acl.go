package process

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ecache/ecache/internal/driver"
	"github.com/ecache/ecache/internal/resp"
)

// controlNode is how the driver reaches the engine of spec: as ecache's own ACL user when the spec has
// users, else with its password.
func controlNode(spec driver.NodeSpec) (resp.Node, error) {
	n, err := engineAddr(spec, spec.Password)
	if a := spec.ACL; a != nil {
		n.User, n.Password = a.ControlUser, a.ControlPassword
	}
	return n, err
}

// aclChanged reports whether a running engine's users must change.
func aclChanged(old, want driver.NodeSpec) bool {
	if old.ACL == nil || want.ACL == nil {
		return old.ACL != want.ACL
	}
	return old.ACL.ControlUser != want.ACL.ControlUser || old.ACL.ControlPassword != want.ACL.ControlPassword ||
		!slices.EqualFunc(old.ACL.Users, want.ACL.Users, func(a, b driver.ACLUser) bool { return a.Name == b.Name && slices.Equal(a.Rules, b.Rules) })
}

// applyACL gives a running engine (started as running) the users of want, with ACL SETUSER for the users
// it keeps (their connections stay) and ACL DELUSER for the others (theirs are closed); without users in
// want, the default user takes want's passwords (or none) and every other user goes.
func applyACL(ctx context.Context, running, want driver.NodeSpec) error {
	n, err := controlNode(running)
	if err != nil {
		return err
	}
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	keep := []string{"default"}
	var masterUser, masterAuth string
	if a := want.ACL; a != nil {
		if _, err := c.Do(ctx, slices.Concat([]string{"ACL", "SETUSER"}, controlRules(a))...); err != nil {
			return fmt.Errorf("ACL SETUSER %s: %w", a.ControlUser, err)
		}
		for _, u := range a.Users {
			if _, err := c.Do(ctx, slices.Concat([]string{"ACL", "SETUSER", u.Name, "reset"}, u.Rules)...); err != nil {
				return fmt.Errorf("ACL SETUSER %s: %w", u.Name, err)
			}
			keep = append(keep, u.Name)
		}
		keep = append(keep, a.ControlUser)
		masterUser, masterAuth = a.ControlUser, a.ControlPassword
	} else {
		rules := []string{"ACL", "SETUSER", "default", "reset", "on", "~*", "&*", "+@all"}
		for _, pw := range []string{want.Password, want.SecondPassword} {
			if pw != "" {
				rules = append(rules, ">"+pw)
			}
		}
		if want.Password == "" {
			rules = append(rules, "nopass")
		} else {
			masterUser, masterAuth = "default", want.Password
		}
		if _, err := c.Do(ctx, rules...); err != nil {
			return fmt.Errorf("ACL SETUSER default: %w", err)
		}
	}
	if _, err := c.Do(ctx, "CONFIG", "SET", "masteruser", masterUser, "masterauth", masterAuth); err != nil {
		return fmt.Errorf("CONFIG SET masterauth: %w", err)
	}
	return dropUsers(ctx, c, keep, n.User)
}

// dropUsers deletes every engine user but keep (their connections close), the one c is authenticated as
// (self) last: the engine closes c after that reply.
func dropUsers(ctx context.Context, c *resp.Conn, keep []string, self string) error {
	v, err := c.Do(ctx, "ACL", "USERS")
	if err != nil {
		return fmt.Errorf("ACL USERS: %w", err)
	}
	var gone []string
	for _, x := range v.Elems {
		name := x.Str
		if !slices.Contains(keep, name) && name != self {
			gone = append(gone, name)
		}
	}
	if self != "" && !slices.Contains(keep, self) {
		gone = append(gone, self)
	}
	for _, name := range gone {
		if _, err := c.Do(ctx, "ACL", "DELUSER", name); err != nil && name != self {
			return fmt.Errorf("ACL DELUSER %s: %w", name, err)
		}
	}
	return nil
}
