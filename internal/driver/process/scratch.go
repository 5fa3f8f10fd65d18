package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// Scratch is a throwaway Valkey/Redis OSS engine that serves one RDB file on a Unix socket, with no TCP
// port and no persistence: restores read the keys of a snapshot's files from it.
type Scratch struct {
	Node resp.Node // its Unix socket
	dir  string
	p    *proc
}

// StartScratch starts binary (valkey-server or redis-server) serving file, read in place, and returns once the file is loaded and the engine answers. Close stops it and removes its directory.
func (d *Driver) StartScratch(ctx context.Context, binary, file string) (*Scratch, error) {
	dir, err := os.MkdirTemp("", "ecache-scratch-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "engine.sock")
	cmd, err := d.launch(dir, binary, []string{"--port", "0", "--unixsocket", sock, "--dir", filepath.Dir(file),
		"--dbfilename", filepath.Base(file), "--save", "", "--appendonly", "no", "--daemonize", "no"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("scratch engine: %w", err)
	}
	p := newProc(cmd.Process.Pid, 0, time.Now())
	p.child = cmd.Process
	go func() { _ = cmd.Wait(); p.markExited() }()
	s := &Scratch{Node: resp.Node{Addr: sock}, dir: dir, p: p}
	if err := s.waitLoaded(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitLoaded waits until the engine answers PING, which it does only once the file is loaded.
func (s *Scratch) waitLoaded(ctx context.Context) error {
	for {
		if resp.Ping(ctx, s.Node, time.Second) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.p.done:
			tail := logTail(s.dir)
			return seedError(tail, fmt.Errorf("scratch engine exited before loading the file%s", tail))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close stops the scratch engine and removes its directory.
func (s *Scratch) Close() {
	s.p.killGroup()
	<-s.p.done
	os.RemoveAll(s.dir)
}
