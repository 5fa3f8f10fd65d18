// Package atrest encrypts the files ecache writes with cache data (snapshots, files downloaded for restores)
// for resources with at-rest encryption: AES-256-GCM with a fresh data key per file, the data key wrapped by
// a key ecache keeps in its data directory (its own, or the one it keeps for a KmsKeyId). A sealed file is
// a header (magic, the label of the wrapping key, wrapped data key, nonce prefix) followed by chunks, each
// authenticated with its index and whether it is the last, so that a truncated, reordered or altered file
// fails to open instead of yielding wrong data.
package atrest

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Key is a 256-bit key-encryption key.
type Key [32]byte

// Keys finds a key-encryption key by its label ("" is ecache's own key).
type Keys interface {
	Key(label string) (Key, error)
}

// Key makes a single Key a Keys that knows only the label "".
func (k Key) Key(label string) (Key, error) {
	if label != "" {
		return Key{}, fmt.Errorf("atrest: no key %q", label)
	}
	return k, nil
}

// Keyring keeps ecache's own key and one key per KmsKeyId, each in a file under Dir, created on first use:
// a local key store standing in for AWS KMS.
type Keyring struct {
	Dir string
}

// Key returns the key of label ("" for ecache's own), creating it when it is new.
func (r Keyring) Key(label string) (Key, error) { return LoadOrCreateKey(r.path(label)) }

// KeyFile returns the file that holds the key of label, creating the key when it is new: for ecache's own
// processes that seal data themselves (log replicas).
func (r Keyring) KeyFile(label string) (string, error) {
	_, err := r.Key(label)
	return r.path(label), err
}

func (r Keyring) path(label string) string {
	name := "atrest.key"
	if label != "" {
		sum := sha256.Sum256([]byte(label))
		name = filepath.Join("kms", hex.EncodeToString(sum[:16])+".key")
	}
	return filepath.Join(r.Dir, name)
}

// KeyFiler is a Keys whose keys are files.
type KeyFiler interface {
	KeyFile(label string) (string, error)
}

// AnyLabel is a single key that answers for every label: what a process given one key file uses to open
// data sealed under that key's label.
type AnyLabel Key

// Key returns the key whatever the label.
func (k AnyLabel) Key(string) (Key, error) { return Key(k), nil }

// LoadKey reads the key in path.
func LoadKey(path string) (Key, error) {
	var k Key
	b, err := os.ReadFile(path)
	if err != nil {
		return k, err
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("atrest: key file %s holds %d bytes, want %d", path, len(b), len(k))
	}
	copy(k[:], b)
	return k, nil
}

const (
	magic     = "ECSEAL01"
	chunkSize = 64 << 10
	// header: magic, label length and label, wrapped data key (nonce, key, tag), nonce prefix of the chunks.
	wrappedLen = 12 + 32 + 16
	prefixLen  = 4
)

// ErrCorrupt is returned when a sealed file does not decrypt: altered, truncated or sealed with another key.
var ErrCorrupt = errors.New("atrest: sealed data is corrupt or sealed with another key")

// LoadOrCreateKey reads the key in path, creating it (random, mode 0600) when the file does not exist.
func LoadOrCreateKey(path string) (Key, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if _, err := rand.Read(k[:]); err != nil {
		return k, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return k, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return k, err
	}
	if _, err := f.Write(k[:]); err != nil {
		f.Close()
		return k, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return k, err
	}
	return k, f.Close()
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// writer seals what is written to it; Close writes the last chunk.
type writer struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix [prefixLen]byte
	index  uint64
	buf    []byte
	err    error
}

// Seal returns a writer that writes to w, sealed with a new data key wrapped by the key labelled label.
// Close must be called to finish the file (it does not close w).
func Seal(w io.Writer, keys Keys, label string) (io.WriteCloser, error) {
	if len(label) > 255 {
		return nil, fmt.Errorf("atrest: key label longer than 255 bytes")
	}
	k, err := keys.Key(label)
	if err != nil {
		return nil, err
	}
	kek, err := gcm(k[:])
	if err != nil {
		return nil, err
	}
	dataKey := make([]byte, 32)
	nonce := make([]byte, 12)
	sw := &writer{w: w, buf: make([]byte, 0, chunkSize)}
	for _, b := range [][]byte{dataKey, nonce, sw.prefix[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
	}
	if sw.aead, err = gcm(dataKey); err != nil {
		return nil, err
	}
	header := append([]byte(magic), byte(len(label)))
	header = append(header, label...)
	header = append(header, nonce...)
	header = kek.Seal(header, nonce, dataKey, []byte(magic+label))
	header = append(header, sw.prefix[:]...)
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return sw, nil
}

func (s *writer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for len(p) > 0 {
		if len(s.buf) == chunkSize {
			if s.err = s.flush(false); s.err != nil {
				return n, s.err
			}
		}
		k := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf, p, n = s.buf[:len(s.buf)+k], p[k:], n+k
	}
	return n, nil
}

// nonceAAD is the nonce and the additional data of chunk index: the nonce carries the file's prefix and the
// index; the additional data says whether the chunk is the last.
func nonceAAD(prefix [prefixLen]byte, index uint64, last bool) ([]byte, []byte) {
	nonce := make([]byte, 12)
	copy(nonce, prefix[:])
	binary.BigEndian.PutUint64(nonce[prefixLen:], index)
	aad := []byte{0}
	if last {
		aad[0] = 1
	}
	return nonce, aad
}

func (s *writer) flush(last bool) error {
	nonce, aad := nonceAAD(s.prefix, s.index, last)
	out := make([]byte, 4, 4+len(s.buf)+s.aead.Overhead())
	out = s.aead.Seal(out, nonce, s.buf, aad)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	s.index++
	s.buf = s.buf[:0]
	_, err := s.w.Write(out)
	return err
}

// Close writes the last chunk (possibly empty).
func (s *writer) Close() error {
	if s.err != nil {
		return s.err
	}
	s.err = s.flush(true)
	if s.err == nil {
		s.err = errors.New("atrest: writer closed")
		return nil
	}
	return s.err
}

// reader opens what a writer sealed.
type reader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	prefix [prefixLen]byte
	index  uint64
	plain  []byte
	done   bool
}

// Open returns the plaintext of a sealed stream r, checked chunk by chunk; a stream that ends before its
// last chunk is ErrCorrupt.
func Open(r io.Reader, keys Keys) (io.Reader, error) {
	br := bufio.NewReaderSize(r, chunkSize+64)
	head := make([]byte, len(magic)+1)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(magic)]) != magic {
		return nil, ErrCorrupt
	}
	label := make([]byte, head[len(magic)])
	rest := make([]byte, wrappedLen+prefixLen)
	if _, err := io.ReadFull(br, label); err != nil {
		return nil, ErrCorrupt
	}
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, ErrCorrupt
	}
	k, err := keys.Key(string(label))
	if err != nil {
		return nil, err
	}
	kek, err := gcm(k[:])
	if err != nil {
		return nil, err
	}
	dataKey, err := kek.Open(nil, rest[:12], rest[12:wrappedLen], []byte(magic+string(label)))
	if err != nil {
		return nil, ErrCorrupt
	}
	rd := &reader{r: br}
	copy(rd.prefix[:], rest[wrappedLen:])
	if rd.aead, err = gcm(dataKey); err != nil {
		return nil, err
	}
	return rd, nil
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

func (r *reader) next() error {
	var size [4]byte
	if _, err := io.ReadFull(r.r, size[:]); err != nil {
		return ErrCorrupt // ended before the last chunk
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > chunkSize+uint32(r.aead.Overhead()) {
		return ErrCorrupt
	}
	sealed := make([]byte, n)
	if _, err := io.ReadFull(r.r, sealed); err != nil {
		return ErrCorrupt
	}
	for _, last := range []bool{false, true} {
		nonce, aad := nonceAAD(r.prefix, r.index, last)
		if plain, err := r.aead.Open(nil, nonce, sealed, aad); err == nil {
			r.plain, r.done = plain, last
			r.index++
			if last {
				if _, err := r.r.Peek(1); err != io.EOF {
					return ErrCorrupt // bytes after the last chunk
				}
			}
			return nil
		}
	}
	return ErrCorrupt
}

// HasMagic reports whether what r holds next starts like a sealed file, without consuming it.
func HasMagic(r *bufio.Reader) bool {
	head, _ := r.Peek(len(magic))
	return string(head) == magic
}
