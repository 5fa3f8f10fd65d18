package controller

import (
	"io"
	"os"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/atrest"
)

// writeData writes a file of cache data atomically: sealed (internal/atrest) when seal is set, for a
// resource with at-rest encryption, and the controller has a key.
func (c *Controller) writeData(path string, seal bool, fill func(io.Writer) (int64, error)) (int64, error) {
	if !seal || c.cfg.AtRestKey == nil {
		return atomicfile.Write(path, 0o600, fill)
	}
	return atomicfile.Write(path, 0o600, func(w io.Writer) (int64, error) {
		sw, err := atrest.Seal(w, *c.cfg.AtRestKey)
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
	if c.cfg.AtRestKey == nil {
		return "", nil, atrest.ErrCorrupt
	}
	plain = path + ".plain"
	_, err = atomicfile.Write(plain, 0o600, func(w io.Writer) (int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r, err := atrest.Open(f, *c.cfg.AtRestKey)
		if err != nil {
			return 0, err
		}
		return io.Copy(w, r)
	})
	if err != nil {
		return "", nil, err
	}
	return plain, func() { _ = os.Remove(plain) }, nil
}
