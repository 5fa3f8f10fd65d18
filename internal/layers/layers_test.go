package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ecache/ecache/"

// forbidden lists, per package, imports it must never have (directly).
var forbidden = map[string][]string{
	"internal/service": {"net/http", "encoding/xml", module + "internal/awsquery", module + "internal/driver", module + "internal/controller",
		module + "internal/server", module + "internal/rdb", module + "internal/replication", module + "internal/clustermode",
		module + "internal/endpoint", module + "internal/resp"},
	"internal/api":      {"net/http/httptest", module + "internal/service", module + "internal/store", module + "internal/driver"},
	"internal/awsquery": {module + "internal/api", module + "internal/service"},
	"internal/store":    {module + "internal/service", module + "internal/controller", module + "internal/api"},
	"internal/driver":   {module + "internal/service", module + "internal/api", module + "internal/store"},
	"internal/engine":   {module + "internal/service", module + "internal/api", module + "internal/store", module + "internal/driver"},
	// The controller reaches processes only through driver.Driver and engines only through driver.Engines.
	"internal/controller": {module + "internal/service", module + "internal/server", module + "internal/api", module + "internal/awsquery",
		module + "internal/rdb", module + "internal/driver/process", "os/exec", "syscall"},
	// The engine clients are leaves: the data-plane parts build on them, they build on nothing of ecache.
	"internal/resp":     {module + "internal"},
	"internal/memcache": {module + "internal"},
	"internal/resource": {module + "internal/service", module + "internal/controller", module + "internal/driver"},
}

func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for prefix, bad := range forbidden {
			if pkg != prefix && !strings.HasPrefix(pkg, prefix+"/") {
				continue
			}
			checked++
			for _, imp := range fields[1:] {
				for _, b := range bad {
					if imp == b || strings.HasPrefix(imp, b+"/") {
						t.Errorf("%s imports %s, which its layer must not", pkg, imp)
					}
				}
			}
		}
	}
	if checked < len(forbidden) {
		t.Fatalf("checked %d packages, want at least %d: the package list is not what this test expects", checked, len(forbidden))
	}
}
