package store

import (
	"bytes"
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	tests := []struct {
		name         string
		rev, created int64
		value        []byte
	}{
		{"Empty", 1, 1, nil},
		{"Small", 7, 3, []byte("hello")},
		{"Large", 1 << 40, 1 << 20, bytes.Repeat([]byte{0xff, 0}, 5000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeEnvelope("k", "x", encodeEnvelope(tc.rev, tc.created, tc.value))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Revision != tc.rev || got.Created != tc.created || !bytes.Equal(got.Value, tc.value) {
				t.Errorf("got rev=%d created=%d len=%d, want rev=%d created=%d len=%d",
					got.Revision, got.Created, len(got.Value), tc.rev, tc.created, len(tc.value))
			}
		})
	}
}

func TestEnvelopeCorrupt(t *testing.T) {
	valid := encodeEnvelope(5, 2, []byte("v"))
	badVersion := append([]byte{}, valid...)
	badVersion[0] = 9
	tests := []struct {
		name string
		data []byte
	}{
		{"Empty", []byte{}},
		{"Truncated", valid[:envelopeHeader-1]},
		{"UnknownVersion", badVersion},
		{"ZeroRevision", encodeEnvelope(0, 0, nil)},
		{"CreatedAfterRevision", encodeEnvelope(2, 5, nil)},
		{"NegativeRevision", encodeEnvelope(-1, 1, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeEnvelope("k", "x", tc.data); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want %v", err, ErrCorrupt)
			}
		})
	}
}

// TestBoltCorruptRecord plants an undecodable record and checks that reads
// and Check report it instead of returning garbage.
func TestBoltCorruptRecord(t *testing.T) {
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := b.Update(ctx, func(tx Tx) error {
		_, err := tx.Create("cache-cluster", "ok", []byte("fine"))
		return err
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Fatalf("Check of a healthy store: %v", err)
	}
	if err := b.db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketObjects).Bucket([]byte("cache-cluster")).Put([]byte("torn"), []byte{envelopeV1, 0, 0})
	}); err != nil {
		t.Fatalf("plant corrupt record: %v", err)
	}

	checks := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := b.Get(ctx, "cache-cluster", "torn"); return err }},
		{"List", func() error { _, err := b.List(ctx, "cache-cluster"); return err }},
		{"Check", func() error { return b.Check(ctx) }},
		{"TxGet", func() error {
			return b.Update(ctx, func(tx Tx) error { _, err := tx.Get("cache-cluster", "torn"); return err })
		}},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want %v", err, ErrCorrupt)
			}
		})
	}
}
