package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// TestConsoleInChromium runs tests/console/console.mjs: Debian's chromium, driven headless by
// playwright-core from npm (the browser is never downloaded), signs in to the console of the binary,
// presses TestFailover on a replication group and sees the primary move. Skipped where chromium, node or
// the script's node_modules (npm ci --prefix tests/console) are absent. ECACHE_CONSOLE_SCREENSHOT names a
// PNG file to write the overview to.
func TestConsoleInChromium(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "tests", "console")
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Skip("playwright-core is not installed: npm ci --prefix tests/console")
	}
	requireBinary(t, "valkey-server")
	srv := startServer(t)
	c := srv.client("us-east-1")
	if _, err := c.CreateReplicationGroup(ctxT(t), &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("shop"),
		ReplicationGroupDescription: aws.String("the console's group"), Engine: aws.String("valkey"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, c, "shop")
	cmd := exec.Command("node", filepath.Join(dir, "console.mjs"))
	cmd.Env = append(os.Environ(), "ENDPOINT=http://"+srv.listen, "KEY="+srv.keyID, "SECRET="+srv.secret, "GROUP=shop", "CHROMIUM="+chromium,
		"SCREENSHOT="+os.Getenv("ECACHE_CONSOLE_SCREENSHOT"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "console in chromium passed") {
		t.Fatalf("console in chromium: %v\n%s", err, out)
	}
}
