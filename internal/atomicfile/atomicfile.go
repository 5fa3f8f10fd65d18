// Package atomicfile replaces files so that a reader, or ecache after a crash, sees the old content or the
// new one and never a part: the content goes to path+".part", is flushed to disk, renamed over path, and the
// directory is flushed too. A write cut short by a crash leaves at most the ".part" file, which the next
// write of the same path truncates and replaces. A leaf package: imported by whoever writes state files.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Suffix names the temporary file next to the one being replaced.
const Suffix = ".part"

// Write replaces path with what write produces (through a 1 MiB buffer) and returns what write returned.
// The file gets mode perm; path's directory is created if missing. On failure path is unchanged and the
// temporary file is removed.
func Write(path string, perm os.FileMode, write func(io.Writer) (int64, error)) (int64, error) {
	return replace(path, perm, func(f *os.File) (int64, error) {
		w := bufio.NewWriterSize(f, 1<<20)
		n, err := write(w)
		if err == nil {
			err = w.Flush()
		}
		return n, err
	})
}

// WriteFile replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	_, err := replace(path, perm, func(f *os.File) (int64, error) {
		n, err := f.Write(data)
		return int64(n), err
	})
	return err
}

// Copy replaces dst with a copy of src and returns its size.
func Copy(src, dst string, perm os.FileMode) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	return replace(dst, perm, func(f *os.File) (int64, error) { return io.Copy(f, in) })
}

func replace(path string, perm os.FileMode, write func(*os.File) (int64, error)) (int64, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	part := path + Suffix
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return 0, err
	}
	defer os.Remove(part) // no-op after the rename
	n, err := write(f)
	if err == nil {
		err = f.Chmod(perm) // the umask may have narrowed it
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := os.Rename(part, path); err != nil {
		return 0, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return n, err
	}
	defer d.Close()
	return n, d.Sync()
}
