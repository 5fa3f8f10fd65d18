package txlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Errors of the log's state machine, also returned by Client.
var (
	// ErrStaleEpoch: the write (or fence) carries an epoch older than the log's: a primary that lost its role.
	ErrStaleEpoch = errors.New("txlog: stale epoch")
	// ErrGap: the write starts after the end of the log; a write before it is missing.
	ErrGap = errors.New("txlog: write does not start at the end of the log")
	// ErrOverlap: the write starts inside the log but goes past its end.
	ErrOverlap = errors.New("txlog: write overlaps the end of the log")
)

var (
	bucketData = []byte("data") // entry start offset (8 bytes, big endian) -> entry bytes
	bucketMeta = []byte("meta")
	keyEpoch   = []byte("epoch")
	keyEnd     = []byte("end")
)

// Command types of the Raft log.
const (
	cmdAppend byte = 'A'
	cmdFence  byte = 'F'
)

// encode is a command as the Raft log stores it: type, epoch, offset, data.
func encode(cmd byte, epoch, offset uint64, data []byte) []byte {
	b := make([]byte, 17, 17+len(data))
	b[0] = cmd
	binary.BigEndian.PutUint64(b[1:], epoch)
	binary.BigEndian.PutUint64(b[9:], offset)
	return append(b, data...)
}

// result is what applying a command gives: the end of the log after it, or why it was refused.
type result struct {
	Epoch, End uint64
	Err        error
}

// fsm is the log's replicated state: the committed bytes, in offset order, with the current epoch. It
// keeps them in a bbolt file beside the Raft log; applying is idempotent (a write already in the log is a
// duplicate), so replaying Raft entries over a newer file changes nothing.
type fsm struct {
	path string
	seal *sealer      // entries are sealed at their offset (nil: plain)
	mu   sync.RWMutex // guards db against Restore swapping it
	db   *bolt.DB

	grewMu sync.Mutex
	grew   chan struct{} // closed (and replaced) each time the log grows
}

func openFSM(dir string, seal *sealer) (*fsm, error) {
	f := &fsm{path: filepath.Join(dir, "fsm.db"), seal: seal, grew: make(chan struct{})}
	return f, f.open()
}

// growth is closed the next time the log grows.
func (f *fsm) growth() <-chan struct{} {
	f.grewMu.Lock()
	defer f.grewMu.Unlock()
	return f.grew
}

func (f *fsm) signalGrowth() {
	f.grewMu.Lock()
	close(f.grew)
	f.grew = make(chan struct{})
	f.grewMu.Unlock()
}

// open opens the state file. It is written without fsync: the Raft log (fsynced) and the snapshots are the
// durable record, and at every start Raft restores the latest snapshot into this file and applies the
// entries after it again (applying is idempotent). A file a machine crash left unreadable is set aside
// and the state rebuilt that way.
func (f *fsm) open() error {
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(f.path), snapshotPrefix+"*")); len(left) > 0 {
		for _, name := range left {
			os.Remove(name)
		}
	}
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{NoSync: true, Timeout: 5 * time.Second})
	if err != nil && !errors.Is(err, bolt.ErrTimeout) {
		if rerr := os.Rename(f.path, fmt.Sprintf("%s.unreadable-%d", f.path, time.Now().UnixNano())); rerr != nil {
			return errors.Join(err, rerr)
		}
		db, err = bolt.Open(f.path, 0o600, &bolt.Options{NoSync: true, Timeout: 5 * time.Second})
	}
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketData, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return err
	}
	f.db = db
	return nil
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putU64(b *bolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(k, buf[:])
}

// Apply applies one committed Raft entry.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) < 17 {
		return result{}
	}
	cmd, epoch, offset, data := l.Data[0], binary.BigEndian.Uint64(l.Data[1:]), binary.BigEndian.Uint64(l.Data[9:]), l.Data[17:]
	f.mu.RLock()
	defer f.mu.RUnlock()
	var res result
	err := f.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		cur, end := getU64(meta, keyEpoch), getU64(meta, keyEnd)
		res = result{Epoch: cur, End: end}
		switch cmd {
		case cmdFence:
			// A fence with the current epoch is a retried one: it holds already.
			if epoch < cur {
				res.Err = ErrStaleEpoch
				return nil
			}
			res.Epoch = epoch
			return putU64(meta, keyEpoch, epoch)
		case cmdAppend:
			switch {
			case epoch != cur:
				res.Err = ErrStaleEpoch
			case offset+uint64(len(data)) <= end && offset < end || len(data) == 0 && offset <= end:
				// already in the log: a retried write
			case offset < end:
				res.Err = ErrOverlap
			case offset > end:
				res.Err = ErrGap
			default:
				var key [8]byte
				binary.BigEndian.PutUint64(key[:], offset)
				if err := tx.Bucket(bucketData).Put(key[:], f.seal.seal(offset, data)); err != nil {
					return err
				}
				res.End = end + uint64(len(data))
				return putU64(meta, keyEnd, res.End)
			}
		}
		return nil
	})
	if err != nil {
		return result{Err: fmt.Errorf("txlog: apply: %w", err)}
	}
	if cmd == cmdAppend && res.Err == nil {
		f.signalGrowth()
	}
	return res
}

// state is the current epoch and end.
func (f *fsm) state() (epoch, end uint64, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	err = f.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		epoch, end = getU64(meta, keyEpoch), getU64(meta, keyEnd)
		return nil
	})
	return epoch, end, err
}

// read returns up to max committed bytes from offset, and the end of the log.
func (f *fsm) read(from uint64, max int) ([]byte, uint64, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []byte
	var end uint64
	err := f.db.View(func(tx *bolt.Tx) error {
		end = getU64(tx.Bucket(bucketMeta), keyEnd)
		if from >= end {
			return nil
		}
		c := tx.Bucket(bucketData).Cursor()
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], from)
		k, v := c.Seek(key[:])
		if k == nil || binary.BigEndian.Uint64(k) > from {
			k, v = c.Prev()
		}
		for ; k != nil && len(out) < max; k, v = c.Next() {
			start := binary.BigEndian.Uint64(k)
			plain, err := f.seal.open(start, v)
			if err != nil {
				return fmt.Errorf("log entry at %d: %w", start, err)
			}
			if skip := int(from - min(from, start)); skip < len(plain) {
				out = append(out, plain[skip:]...)
			}
		}
		if len(out) > max {
			out = out[:max]
		}
		return nil
	})
	return out, end, err
}

// Snapshot is a consistent copy of the state file, written to a file of its own before it returns. No bolt
// transaction stays open while Raft persists it: Raft asks its main loop for the configuration meanwhile,
// and a transaction held that long would stop an Apply that grows the file (bolt remaps it only once no
// transaction is open), which stops the main loop as its commits queue up: a deadlock.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	file, err := os.CreateTemp(filepath.Dir(f.path), snapshotPrefix+"*")
	if err != nil {
		return nil, err
	}
	err = f.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(file)
		return err
	})
	if err != nil {
		file.Close()
		os.Remove(file.Name())
		return nil, err
	}
	return &snapshot{file: file}, nil
}

// snapshotPrefix names the files Snapshot writes; open removes those a crash left.
const snapshotPrefix = "fsm-snapshot-"

// Restore replaces the state file with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	tmp := f.path + ".restore"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := f.db.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return err
	}
	return f.open()
}

type snapshot struct{ file *os.File }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	_, err := s.file.Seek(0, io.SeekStart)
	if err == nil {
		_, err = io.Copy(sink, s.file)
	}
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {
	s.file.Close()
	os.Remove(s.file.Name())
}
