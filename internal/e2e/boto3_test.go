package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBoto3 runs tests/boto3/smoke.py with the image's boto3 against the binary.
func TestBoto3(t *testing.T) {
	requireBinary(t, "python3", "redis-server")
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed")
	}
	srv := startServer(t)
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("python3", filepath.Join(filepath.Dir(file), "..", "..", "tests", "boto3", "smoke.py"))
	cmd.Env = append(os.Environ(), "ENDPOINT=http://"+srv.listen, "AWS_ACCESS_KEY_ID="+srv.keyID, "AWS_SECRET_ACCESS_KEY="+srv.secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "boto3 smoke passed") {
		t.Fatalf("boto3 smoke failed: %v\n%s", err, out)
	}
}
