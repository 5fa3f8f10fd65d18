package engine

import (
	_ "embed"
	"strings"
	"sync"
)

// aclcommands.txt lists the commands and subcommands ("config|set") that both Valkey 8.0 and Redis OSS 7.0
// know (COMMAND, lowercased), and aclcategories.txt the ACL categories both have (ACL CAT, and "all"): the names an
// access string may grant or deny on every engine this host runs.
var (
	//go:embed aclcommands.txt
	aclCommandList string
	//go:embed aclcategories.txt
	aclCategoryList string
)

var aclNames = sync.OnceValues(func() (commands, categories map[string]bool) {
	commands, categories = map[string]bool{}, map[string]bool{}
	for _, c := range strings.Fields(aclCommandList) {
		commands[c] = true
		if parent, _, ok := strings.Cut(c, "|"); ok {
			commands[parent+"|"] = true // parent has subcommands
		}
	}
	for _, c := range strings.Fields(aclCategoryList) {
		categories[c] = true
	}
	return commands, categories
})

// ACLCommand reports whether an ACL rule may name command (case-insensitive): a command, a subcommand of
// one that has them ("config|get"), or a first argument of one that has none ("select|0").
func ACLCommand(command string) bool {
	commands, _ := aclNames()
	c := strings.ToLower(command)
	parent, _, sub := strings.Cut(c, "|")
	if !sub {
		return commands[c]
	}
	if commands[parent+"|"] {
		return commands[c]
	}
	return commands[parent]
}

// ACLCategory reports whether name is an ACL command category (without the @).
func ACLCategory(name string) bool {
	_, categories := aclNames()
	return categories[strings.ToLower(name)]
}
