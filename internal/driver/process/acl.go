package process

import (
	"context"
	"fmt"
	"slices"

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

// applyACL gives a running engine the users of want on c, a connection authenticated as self: ACL SETUSER
// for the users it keeps (their connections stay) and ACL DELUSER for the others (theirs are closed);
// without users in want, the default user takes want's passwords (or none) and every other user goes.
func applyACL(ctx context.Context, c *resp.Conn, self string, want driver.NodeSpec) error {
	a := want.ACL
	if a == nil {
		var passwords []string
		for _, pw := range []string{want.Password, want.SecondPassword} {
			if pw != "" {
				passwords = append(passwords, pw)
			}
		}
		if err := setDefaultUser(ctx, c, passwords, true); err != nil {
			return err
		}
		return dropUsers(ctx, c, []string{"default"}, self)
	}
	if _, err := c.Do(ctx, slices.Concat([]string{"ACL", "SETUSER"}, controlRules(a))...); err != nil {
		return fmt.Errorf("ACL SETUSER %s: %w", a.ControlUser, err)
	}
	keep := []string{"default", a.ControlUser}
	for _, u := range a.Users {
		if _, err := c.Do(ctx, slices.Concat([]string{"ACL", "SETUSER", u.Name, "reset"}, u.Rules)...); err != nil {
			return fmt.Errorf("ACL SETUSER %s: %w", u.Name, err)
		}
		keep = append(keep, u.Name)
	}
	if err := setMasterAuth(ctx, c, a.ControlUser, a.ControlPassword); err != nil {
		return err
	}
	return dropUsers(ctx, c, keep, self)
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
