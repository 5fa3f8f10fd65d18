package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestQuickstartWithAWSCLI runs tests/cli/quickstart.sh, the README story, with the real AWS CLI.
func TestQuickstartWithAWSCLI(t *testing.T) {
	requireBinary(t, "aws", "bash", "redis-server", "memcached")
	srv := startServer(t)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "tests", "cli", "quickstart.sh")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(),
		"ENDPOINT=http://"+srv.listen,
		"AWS_ACCESS_KEY_ID="+srv.keyID,
		"AWS_SECRET_ACCESS_KEY="+srv.secret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_PAGER=",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart failed: %v\n%s\necache log:\n%s", err, out, srv.logs())
	}
	if !strings.Contains(string(out), "quickstart passed") {
		t.Fatalf("quickstart did not finish:\n%s", out)
	}
}
