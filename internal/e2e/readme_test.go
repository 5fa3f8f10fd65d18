package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/app"
	"github.com/ecache/ecache/internal/regions"
	"github.com/redis/go-redis/v9"
)

// repoRoot is the checkout this test file is in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// readmeSnippet is the code block that follows `<!-- snippet: name -->` in README.md.
func readmeSnippet(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- snippet: "+name+" -->")
	if !ok {
		t.Fatalf("README.md has no snippet %s", name)
	}
	_, rest, ok = strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("snippet %s has no code block", name)
	}
	_, code, _ := strings.Cut(rest, "\n") // the fence's info string
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatalf("snippet %s's code block does not end", name)
	}
	return code
}

// pingNode checks that an engine answers at the host:port a snippet printed last.
func pingNode(t *testing.T, what string, out []byte) {
	t.Helper()
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) == 0 {
		t.Fatalf("%s printed nothing", what)
	}
	rc := redis.NewClient(&redis.Options{Addr: lines[len(lines)-1], MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer rc.Close()
	if err := rc.Ping(context.Background()).Err(); err != nil {
		t.Errorf("%s printed %s, where no engine answers: %v", what, lines[len(lines)-1], err)
	}
}

// TestReadmeSnippets runs the README's boto3 and Go SDK quickstarts as they stand, against the binary, and
// checks that an engine answers at the node endpoint each prints. The Terraform provider block cannot run
// here (no Terraform); it must name ecache's default API address and a region ecache serves.
func TestReadmeSnippets(t *testing.T) {
	t.Run("terraform", func(t *testing.T) {
		hcl := readmeSnippet(t, "terraform")
		region := regexp.MustCompile(`(?m)^\s*region\s*=\s*"([^"]+)"`).FindStringSubmatch(hcl)
		if region == nil || !regions.New().Has(region[1]) {
			t.Errorf("the Terraform block's region %v is not one ecache serves", region)
		}
		if want := `elasticache = "http://` + app.DefaultConfig().Listen + `"`; !strings.Contains(hcl, want) {
			t.Errorf("the Terraform block does not point at ecache's default address (%s):\n%s", want, hcl)
		}
		for _, flag := range []string{"skip_credentials_validation", "skip_requesting_account_id", "skip_metadata_api_check"} {
			if !regexp.MustCompile(`(?m)^\s*` + flag + `\s*=\s*true`).MatchString(hcl) {
				t.Errorf("the Terraform block does not set %s = true (the provider would call STS or the instance metadata)", flag)
			}
		}
	})
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	env := append(os.Environ(), "ENDPOINT=http://"+srv.listen, "AWS_ACCESS_KEY_ID="+srv.keyID, "AWS_SECRET_ACCESS_KEY="+srv.secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_REGION=", "AWS_DEFAULT_REGION=")
	t.Run("boto3", func(t *testing.T) {
		if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
			t.Skip("boto3 is not installed")
		}
		script := filepath.Join(t.TempDir(), "quickstart.py")
		if err := os.WriteFile(script, []byte(readmeSnippet(t, "boto3")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("python3", script)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the boto3 snippet: %v\n%s", err, out)
		}
		pingNode(t, "the boto3 snippet", out)
	})
	t.Run("go", func(t *testing.T) {
		dir := t.TempDir()
		// A module of its own, with this one's requirements and sums: it builds from the module cache.
		mod, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := os.ReadFile(filepath.Join(repoRoot(), "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		_, requires, _ := strings.Cut(string(mod), "\ngo ")
		files := map[string]string{"go.mod": "module readme\n\ngo " + requires, "go.sum": string(sum), "main.go": readmeSnippet(t, "go")}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("go", "run", ".")
		cmd.Dir, cmd.Env = dir, append(env, "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the Go snippet: %v\n%s", err, out)
		}
		pingNode(t, "the Go snippet", out)
	})
}
