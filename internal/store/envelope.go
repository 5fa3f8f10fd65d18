package store

import (
	"encoding/binary"
	"fmt"
)

// On-disk record format (one bbolt value per object):
//
//	byte 0      format version (envelopeV1)
//	bytes 1-8   revision, uint64 big endian
//	bytes 9-16  created,  uint64 big endian
//	bytes 17-   value
const (
	envelopeV1     = 1
	envelopeHeader = 17
)

func encodeEnvelope(rev, created int64, value []byte) []byte {
	buf := make([]byte, envelopeHeader+len(value))
	buf[0] = envelopeV1
	binary.BigEndian.PutUint64(buf[1:9], uint64(rev))
	binary.BigEndian.PutUint64(buf[9:17], uint64(created))
	copy(buf[envelopeHeader:], value)
	return buf
}

// decodeEnvelope parses a record. The returned value is a copy of the
// payload, so it stays valid after the bbolt transaction ends.
func decodeEnvelope(kind, key string, data []byte) (Object, error) {
	if len(data) < envelopeHeader {
		return Object{}, fmt.Errorf("%w: %s/%s: record of %d bytes is shorter than its header", ErrCorrupt, kind, key, len(data))
	}
	if data[0] != envelopeV1 {
		return Object{}, fmt.Errorf("%w: %s/%s: unknown record version %d", ErrCorrupt, kind, key, data[0])
	}
	rev := int64(binary.BigEndian.Uint64(data[1:9]))
	created := int64(binary.BigEndian.Uint64(data[9:17]))
	if rev < 1 || created < 1 || created > rev {
		return Object{}, fmt.Errorf("%w: %s/%s: revision %d, created %d", ErrCorrupt, kind, key, rev, created)
	}
	return Object{
		Kind:     kind,
		Key:      key,
		Revision: rev,
		Created:  created,
		Value:    cloneBytes(data[envelopeHeader:]),
	}, nil
}

// decodeKnownEnvelope is decodeEnvelope that leaves Value nil when known reports the key at the
// record's revision as held by the reader.
func decodeKnownEnvelope(kind, key string, data []byte, known func(key string, revision int64) bool) (Object, error) {
	if len(data) >= envelopeHeader && data[0] == envelopeV1 {
		if rev := int64(binary.BigEndian.Uint64(data[1:9])); known(key, rev) {
			obj, err := decodeEnvelope(kind, key, data[:envelopeHeader])
			obj.Value = nil
			return obj, err
		}
	}
	return decodeEnvelope(kind, key, data)
}

func encodeRevision(rev int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(rev))
}

func decodeRevision(data []byte) (int64, error) {
	if data == nil {
		return 0, nil
	}
	if len(data) != 8 {
		return 0, fmt.Errorf("%w: revision record of %d bytes", ErrCorrupt, len(data))
	}
	rev := int64(binary.BigEndian.Uint64(data))
	if rev < 0 {
		return 0, fmt.Errorf("%w: negative revision", ErrCorrupt)
	}
	return rev, nil
}
