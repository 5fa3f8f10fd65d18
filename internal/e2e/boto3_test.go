package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBoto3 runs tests/boto3/smoke.py with the image's boto3 against the binary.
func TestBoto3(t *testing.T) {
	runBoto3(t, "smoke.py", "redis-server")
}

// TestBoto3RBAC runs tests/boto3/rbac.py, Terraform's order of users, user groups and their association,
// and checks that no engine is left after it.
func TestBoto3RBAC(t *testing.T) {
	srv := runBoto3(t, "rbac.py", "redis-server")
	eventually(t, 10*time.Second, "no engine left", func() error {
		if pids := enginePIDs(srv.dataDir); len(pids) > 0 {
			return fmt.Errorf("engines left: %v", pids)
		}
		return nil
	})
}

// runBoto3 runs a script of tests/boto3 against a new server, which it returns; the script ends with
// "<name> passed".
func runBoto3(t *testing.T, script string, engines ...string) *ecacheProcess {
	requireBinary(t, append([]string{"python3"}, engines...)...)
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed")
	}
	srv := startServer(t)
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("python3", filepath.Join(filepath.Dir(file), "..", "..", "tests", "boto3", script))
	cmd.Env = append(os.Environ(), "ENDPOINT=http://"+srv.listen, "AWS_ACCESS_KEY_ID="+srv.keyID, "AWS_SECRET_ACCESS_KEY="+srv.secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), " passed") {
		t.Fatalf("boto3 %s failed: %v\n%s", script, err, out)
	}
	return srv
}
