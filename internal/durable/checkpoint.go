package durable

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ecache/ecache/internal/atomicfile"
	"github.com/ecache/ecache/internal/atrest"
)

// Checkpoints keeps a shard's datasets, each the state of its log at an offset: the newest one and the
// log's entries after that offset make the shard's data. A dataset is an RDB file, sealed at rest when
// Keys is set; each has an id (40 hex digits) that names it as a replication history, the one the relay
// serves replicas under. One process writes a shard's checkpoints, through one Checkpoints: it knows the
// newest without reading the directory again.
type Checkpoints struct {
	Dir   string
	Keys  atrest.Keys // nil: files are plain
	Label string      // the label of the wrapping key in Keys

	mu     sync.Mutex
	latest *Checkpoint // the newest, once known
}

// Checkpoint is one stored dataset.
type Checkpoint struct {
	Offset uint64 // the log offset the dataset is the state at
	ID     string
	path   string
}

// ErrNoCheckpoint: the shard has no dataset yet.
var ErrNoCheckpoint = errors.New("durable: no checkpoint")

const checkpointPrefix = "checkpoint-"

// Save stores the dataset write produces as the state of the log at offset. It is durable when Save
// returns; older checkpoints are removed then.
func (c *Checkpoints) Save(offset uint64, write func(io.Writer) error) (Checkpoint, error) {
	var id [20]byte
	_, _ = rand.Read(id[:])
	cp := Checkpoint{Offset: offset, ID: hex.EncodeToString(id[:])}
	cp.path = filepath.Join(c.Dir, fmt.Sprintf("%s%020d-%s.rdb", checkpointPrefix, offset, cp.ID))
	_, err := atomicfile.Write(cp.path, 0o600, func(w io.Writer) (int64, error) {
		if c.Keys == nil {
			return 0, write(w)
		}
		sealed, err := atrest.Seal(w, c.Keys, c.Label)
		if err != nil {
			return 0, err
		}
		if err := write(sealed); err != nil {
			return 0, err
		}
		return 0, sealed.Close()
	})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("durable: checkpoint: %w", err)
	}
	c.mu.Lock()
	c.latest = &cp
	c.mu.Unlock()
	all, err := c.list()
	if err != nil {
		return cp, nil
	}
	for _, old := range all {
		if old.path != cp.path {
			_ = os.Remove(old.path)
		}
	}
	return cp, nil
}

// Latest is the newest checkpoint, ErrNoCheckpoint when there is none.
func (c *Checkpoints) Latest() (Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.latest != nil {
		return *c.latest, nil
	}
	all, err := c.list()
	if err != nil {
		return Checkpoint{}, err
	}
	if len(all) == 0 {
		return Checkpoint{}, ErrNoCheckpoint
	}
	c.latest = &all[len(all)-1]
	return *c.latest, nil
}

// list is the stored checkpoints, oldest first.
func (c *Checkpoints) list() ([]Checkpoint, error) {
	entries, err := os.ReadDir(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if !ok || !strings.HasSuffix(name, ".rdb") {
			continue
		}
		off, id, ok := strings.Cut(strings.TrimSuffix(name, ".rdb"), "-")
		offset, err := strconv.ParseUint(off, 10, 64)
		if !ok || err != nil || len(id) != 40 {
			continue
		}
		out = append(out, Checkpoint{Offset: offset, ID: id, path: filepath.Join(c.Dir, e.Name())})
	}
	// Names sort by offset; at one offset (a shipper attached twice with nothing logged in between) the
	// newer file wins.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Offset != out[j].Offset {
			return out[i].Offset < out[j].Offset
		}
		return modTime(out[i].path) < modTime(out[j].path)
	})
	return out, nil
}

func modTime(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.ModTime().UnixNano()
}

// Open returns the dataset's plain RDB bytes.
func (c *Checkpoints) Open(cp Checkpoint) (io.ReadCloser, error) {
	f, err := os.Open(cp.path)
	if err != nil {
		return nil, err
	}
	if c.Keys == nil {
		return f, nil
	}
	plain, err := atrest.Open(bufio.NewReaderSize(f, 1<<20), c.Keys)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{plain, f}, nil
}
