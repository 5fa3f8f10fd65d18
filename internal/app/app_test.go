package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialsGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c := &Config{DataDir: dir}
	first, created, err := loadOrCreateCredentials(c)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	if !strings.HasPrefix(first.AccessKeyID, "AKIA") || len(first.SecretAccessKey) != 40 || len(first.AccountID) != 12 {
		t.Errorf("generated credentials look wrong: %+v", first)
	}
	info, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	again, created, err := loadOrCreateCredentials(c)
	if err != nil || created || again != first {
		t.Errorf("second start: %+v created %v (%v), want the stored credentials", again, created, err)
	}
	c.AccessKeyID, c.SecretAccessKey, c.AccountID = "AKIAFLAG", "flag-secret", "111122223333"
	fromFlags, _, err := loadOrCreateCredentials(c)
	if err != nil || fromFlags.AccessKeyID != "AKIAFLAG" || fromFlags.AccountID != "111122223333" {
		t.Errorf("flags did not override the stored credentials: %+v (%v)", fromFlags, err)
	}
	c.SecretAccessKey = ""
	if _, _, err := loadOrCreateCredentials(c); err == nil {
		t.Error("an access key without a secret was accepted")
	}
}
