package controller

import (
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
	sealed, err := atrest.Sealed(path)
	if err != nil || !sealed {
		return path, func() {}, err
	}
	if c.cfg.AtRest == nil {
		return "", nil, atrest.ErrCorrupt
	}
	plain = path + ".plain"
	_, err = atomicfile.Write(plain, 0o600, func(w io.Writer) (int64, error) {
		r, err := c.readData(path)
		if err != nil {
			return 0, err
		}
		defer r.Close()
		return io.Copy(w, r)
	})
	if err != nil {
		return "", nil, err
	}
	return plain, func() { _ = os.Remove(plain) }, nil
}

// readData opens a file of cache data for reading its plaintext, sealed or not.
func (c *Controller) readData(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sealed, err := atrest.Sealed(path)
	if err != nil || !sealed {
		return f, err
	}
	if c.cfg.AtRest == nil {
		f.Close()
		return nil, atrest.ErrCorrupt
	}
	r, err := atrest.Open(f, c.cfg.AtRest)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}
