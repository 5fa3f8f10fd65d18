package txlog

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// sealer encrypts what a replica keeps on disk (the bytes of the Raft log's commands and of the committed
// log) with the log's data key: AES-256-GCM, a random nonce per record, the record's position (Raft index,
// log offset) as additional data so that a record moved elsewhere fails to open. A nil sealer keeps
// records plain.
type sealer struct {
	aead cipher.AEAD
}

// errSealed is a record that does not open: altered, moved, or sealed with another key.
var errSealed = errors.New("txlog: a sealed record does not open")

func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		return nil, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("txlog: data key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func position(at uint64) []byte { return binary.BigEndian.AppendUint64(nil, at) }

// seal returns data sealed for position at.
func (s *sealer) seal(at uint64, data []byte) []byte {
	if s == nil {
		return data
	}
	out := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(data)+s.aead.Overhead())
	_, _ = rand.Read(out)
	return s.aead.Seal(out, out, data, position(at))
}

// open returns the plain bytes of a record sealed for position at.
func (s *sealer) open(at uint64, sealed []byte) ([]byte, error) {
	if s == nil {
		return sealed, nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errSealed
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], position(at))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}

// sealedLogs keeps the commands of the Raft log sealed in the underlying store.
type sealedLogs struct {
	raft.LogStore
	s *sealer
}

func (l sealedLogs) StoreLog(log *raft.Log) error { return l.StoreLogs([]*raft.Log{log}) }

func (l sealedLogs) StoreLogs(logs []*raft.Log) error {
	out := make([]*raft.Log, len(logs))
	for i, log := range logs {
		c := *log
		if c.Type == raft.LogCommand {
			c.Data = l.s.seal(c.Index, c.Data)
		}
		out[i] = &c
	}
	return l.LogStore.StoreLogs(out)
}

func (l sealedLogs) GetLog(index uint64, log *raft.Log) error {
	if err := l.LogStore.GetLog(index, log); err != nil {
		return err
	}
	if log.Type != raft.LogCommand {
		return nil
	}
	plain, err := l.s.open(index, log.Data)
	if err != nil {
		return fmt.Errorf("raft log entry %d: %w", index, err)
	}
	log.Data = plain
	return nil
}
