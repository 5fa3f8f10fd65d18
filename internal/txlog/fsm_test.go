package txlog

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// memorySink is a raft.SnapshotSink that keeps the snapshot in memory.
type memorySink struct{ bytes.Buffer }

func (*memorySink) ID() string              { return "test" }
func (*memorySink) Cancel() error           { return nil }
func (*memorySink) Close() error            { return nil }
func (s *memorySink) Reader() io.ReadCloser { return io.NopCloser(bytes.NewReader(s.Bytes())) }

// TestSnapshotHoldsNoTransaction: while a snapshot waits to be persisted (Raft asks its main loop for the
// configuration meanwhile), appends that grow the state file well past its mapping still apply: a bolt
// transaction held by the snapshot would stop them, and with them Raft's main loop. The snapshot persisted
// afterwards is the state at the time it was taken.
func TestSnapshotHoldsNoTransaction(t *testing.T) {
	f, err := openFSM(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var end uint64
	appendChunk := func() {
		if res := f.Apply(&raft.Log{Type: raft.LogCommand, Data: encode(cmdAppend, 0, end, chunk)}).(result); res.Err != nil {
			t.Error(res.Err)
		}
		end += uint64(len(chunk))
	}
	appendChunk()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for range 300 { // about 20 MiB: bolt remaps the file several times
			appendChunk()
		}
	}()
	select {
	case <-applied:
	case <-time.After(time.Minute):
		t.Fatal("appends that grow the state file wait for a snapshot not yet persisted")
	}
	var sink memorySink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	restored, err := openFSM(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.close()
	if err := restored.Restore(sink.Reader()); err != nil {
		t.Fatal(err)
	}
	if _, got, err := restored.state(); err != nil || got != uint64(len(chunk)) {
		t.Errorf("the snapshot restores to end %d (%v), want %d: the state when it was taken", got, err, len(chunk))
	}
}
