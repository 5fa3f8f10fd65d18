package resource

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Store kinds of role-based access control.
const (
	KindUser      = "user"
	KindUserGroup = "user-group"
)

// User and user group statuses.
const (
	UserActive    = "active"
	UserModifying = "modifying"
	UserDeleting  = "deleting"
	// UserGroupCreating is a user group's status until it is first active.
	UserGroupCreating = "creating"
)

// Authentication types of a user, as DescribeUsers reports them.
const (
	AuthPassword   = "password"
	AuthNoPassword = "no-password"
	AuthIAM        = "iam"
)

// DefaultUserID is the built-in user every region has: UserName default, no password, full access. It is
// never stored, cannot be modified or deleted, and is what a user group's nodes run as default when the
// group names it.
const DefaultUserID = "default"

// DefaultUserName is the engine user that clients are before AUTH; every user group holds one user of this
// name.
const DefaultUserName = "default"

// ControlUserName is ecache's own engine user on the nodes of a replication group with a user group: the
// controller and the replicas authenticate as it, with the group's ACLSecret.
const ControlUserName = "ecache-control"

// DefaultAccessString is the built-in default user's access.
const DefaultAccessString = "on ~* +@all"

// User is an ElastiCache user: an engine ACL user that user groups carry onto the nodes of their
// replication groups. Its passwords are kept only as SHA-256 digests, the form the engines' ACL takes (`#`).
type User struct {
	Region string `json:"region"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Engine string `json:"engine"`
	// AccessString is the normalised access string (see NormalizeAccessString).
	AccessString   string   `json:"accessString"`
	Authentication string   `json:"authentication"`
	PasswordHashes []string `json:"passwordHashes,omitempty"`
	// IAMSecret is, for a user with IAM authentication, the engine password ecache's durable endpoint
	// gives in its place once it has checked the user's token; clients never see it.
	IAMSecret string `json:"iamSecret,omitempty"`
	Status    string `json:"status"`
	Tags      []Tag  `json:"tags,omitempty"`
}

// BuiltinDefaultUser is the region's built-in default user.
func BuiltinDefaultUser(region, engine string) *User {
	return &User{Region: region, ID: DefaultUserID, Name: DefaultUserName, Engine: engine, AccessString: DefaultAccessString,
		Authentication: AuthNoPassword, Status: UserActive}
}

// StatusRef is where u keeps its status.
func (u *User) StatusRef() *string { return &u.Status }

// StatusRef is where g keeps its status.
func (g *UserGroup) StatusRef() *string { return &g.Status }

// HashPassword is a password as the engines' ACL keeps it: the hex SHA-256 of its bytes.
func HashPassword(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// UserGroup is a set of users, one of them named default, that replication groups carry as their
// engines' ACL.
type UserGroup struct {
	Region  string   `json:"region"`
	ID      string   `json:"id"`
	Engine  string   `json:"engine"`
	Status  string   `json:"status"`
	UserIDs []string `json:"userIds"`
	// Pending is the change a ModifyUserGroup made while it reaches the nodes (UserIDs already has it).
	Pending *UserGroupChange `json:"pending,omitempty"`
	Tags    []Tag            `json:"tags,omitempty"`
}

// UserGroupChange lists the users a change adds and removes.
type UserGroupChange struct {
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// ACLRules are the engine ACL rules of u after a reset: its state, its passwords (or nopass) and its access
// string's rules. Selectors in parentheses stay one rule each.
func (u *User) ACLRules() []string {
	rules := AccessRules(u.AccessString)
	var auth []string
	switch u.Authentication {
	case AuthPassword:
		for _, h := range u.PasswordHashes {
			auth = append(auth, "#"+h)
		}
	case AuthIAM:
		auth = []string{"#" + HashPassword(u.IAMSecret)}
	default:
		auth = []string{"nopass"}
	}
	// Keys and channels the access string leaves out are none; on/off stays where it was written.
	return slices.Concat(auth, rules)
}

// AccessRules splits an access string into ACL rules: on spaces, but a selector in parentheses is one
// rule.
func AccessRules(s string) []string {
	var out []string
	depth, start := 0, -1
	for i := 0; i <= len(s); i++ {
		end := i == len(s)
		if !end {
			switch s[i] {
			case '(':
				depth++
			case ')':
				depth = max(0, depth-1)
			}
		}
		if end || (s[i] == ' ' && depth == 0) {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}

// NormalizeAccessString is an access string as ElastiCache stores it: the rules in the order given,
// single-spaced, led by off when it turns the user neither on nor off, and ending with -@all when it grants
// or denies no command (an engine user starts with none).
func NormalizeAccessString(s string) string {
	rules := AccessRules(s)
	state, commands := false, false
	for _, r := range rules {
		switch {
		case r == "on" || r == "off":
			state = true
		case r == "allcommands" || r == "nocommands" || strings.HasPrefix(r, "+") || strings.HasPrefix(r, "-"):
			commands = true
		}
	}
	if !state {
		rules = append([]string{"off"}, rules...)
	}
	if !commands {
		rules = append(rules, "-@all")
	}
	return strings.Join(rules, " ")
}
