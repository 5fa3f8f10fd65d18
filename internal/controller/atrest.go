package controller

import (
	"bufio"
	"io"
	"os"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/atrest"
)

// writeData writes a file of cache data atomically: sealed (internal/atrest) with the key of kmsKeyID
// (ecache's own for "") when seal is set, for a resource with at-rest encryption, and the controller has
// keys.
func (c *Controller) writeData(path string, seal bool, kmsKeyID string, fill func(io.Writer) (int64, error)) (int64, error) {
	if !seal || c.cfg.AtRest == nil {
		return atomicfile.Write(path, 0o600, fill)
	}
	return atomicfile.Write(path, 0o600, func(w io.Writer) (int64, error) {
		sw, err := atrest.Seal(w, c.cfg.AtRest, kmsKeyID)
		if err != nil {
			return 0, err
		}
		n, err := fill(sw)
		if err != nil {
			return n, err
		}
		return n, sw.Close()
	})
}

// plainFile is a plaintext copy of a file of cache data for an engine to read: path itself when it is not
// sealed, else a decrypted copy beside it, which done removes.
func (c *Controller) plainFile(path string) (plain string, done func(), err error) {
	r, sealed, err := c.readData(path)
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	if !sealed {
		return path, func() {}, nil
	}
	plain = path + ".plain"
	if _, err := atomicfile.Write(plain, 0o600, func(w io.Writer) (int64, error) { return io.Copy(w, r) }); err != nil {
		return "", nil, err
	}
	return plain, func() { _ = os.Remove(plain) }, nil
}

// readData opens a file of cache data for reading its plaintext, and says whether the file is sealed.
func (c *Controller) readData(path string) (io.ReadCloser, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	br := bufio.NewReader(f)
	plain := struct {
		io.Reader
		io.Closer
	}{br, f}
	if !atrest.HasMagic(br) {
		return plain, false, nil
	}
	if c.cfg.AtRest == nil {
		f.Close()
		return nil, true, atrest.ErrCorrupt
	}
	r, err := atrest.Open(br, c.cfg.AtRest)
	if err != nil {
		f.Close()
		return nil, true, err
	}
	plain.Reader = r
	return plain, true, nil
}
