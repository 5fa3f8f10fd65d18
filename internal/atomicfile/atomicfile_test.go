package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "two" {
		t.Fatalf("content = %q, %v; want two", b, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, %v; want 0640", fi.Mode(), err)
	}

	// A failed write leaves the old content and no temporary file.
	boom := errors.New("boom")
	_, err := Write(path, 0o600, func(w io.Writer) (int64, error) {
		_, _ = w.Write([]byte("partial"))
		return 0, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write error = %v, want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content after a failed write = %q, want two", b)
	}
	if _, err := os.Stat(path + Suffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file after a failed write: %v, want none", err)
	}

	// A ".part" file left by a crash is replaced by the next write.
	if err := os.WriteFile(path+Suffix, []byte("left by a crash, and longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyTo := filepath.Join(dir, "copy")
	if n, err := Copy(path, copyTo, 0o600); err != nil || n != 3 {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if err := WriteFile(path, []byte("three"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Errorf("content = %q, want three", b)
	}
	if b, _ := os.ReadFile(copyTo); string(b) != "two" {
		t.Errorf("copy = %q, want two", b)
	}
}
