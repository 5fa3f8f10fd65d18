package atrest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

func seal(t *testing.T, k Key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Seal(&buf, k, "")
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes cross chunk boundaries.
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 1000+len(rest)%7777)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(k Key, sealed []byte) ([]byte, error) {
	r, err := Open(bytes.NewReader(sealed), k)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTripHidesThePlaintext(t *testing.T) {
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "keys", "atrest.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		plain := bytes.Repeat([]byte("secret-value:"), size/13+1)[:size]
		sealed := seal(t, k, plain)
		if size >= 13 && bytes.Contains(sealed, []byte("secret-value:")) {
			t.Errorf("%d bytes: the sealed file shows the plaintext", size)
		}
		got, err := open(k, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%d bytes: opened %d bytes, %v", size, len(got), err)
		}
	}
}

func TestTamperingIsDetected(t *testing.T) {
	var k, other Key
	rand.Read(k[:])
	rand.Read(other[:])
	plain := make([]byte, 2*chunkSize+100)
	rand.Read(plain)
	sealed := seal(t, k, plain)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	for name, data := range map[string][]byte{
		"truncated at a chunk boundary": sealed[:len(sealed)-(100+16+4)],
		"truncated mid-chunk":           sealed[:len(sealed)-10],
		"a flipped bit":                 flipped,
		"bytes after the end":           append(bytes.Clone(sealed), 0),
		"not sealed":                    plain,
	} {
		if _, err := open(k, data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := open(other, sealed); !errors.Is(err, ErrCorrupt) {
		t.Errorf("another key: %v, want ErrCorrupt", err)
	}
}

func TestKeyIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	a, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(path)
	if err != nil || a != b {
		t.Errorf("second load: %v, same key %v", err, a == b)
	}
}

// TestKeyringSealsWithTheNamedKey: a file sealed with a KmsKeyId's key opens with the keyring (which finds
// that key by the label in the file), not with ecache's own key.
func TestKeyringSealsWithTheNamedKey(t *testing.T) {
	ring := Keyring{Dir: t.TempDir()}
	var buf bytes.Buffer
	w, err := Seal(&buf, ring, "arn:aws:kms:us-east-1:123456789012:key/abc")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("secret"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(bytes.NewReader(buf.Bytes()), ring)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || string(got) != "secret" {
		t.Errorf("opened %q, %v", got, err)
	}
	own, err := ring.Key("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bytes.NewReader(buf.Bytes()), own); err == nil {
		t.Error("ecache's own key opened a file sealed with a KmsKeyId's key")
	}
}
