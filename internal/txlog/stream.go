package txlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The append stream: a binary protocol on the API port, beside HTTP, for a writer that keeps several
// appends in flight. A connection that starts with streamMagic carries append frames one after the other;
// the leader hands each to Raft in the order it arrives (so the log keeps that order) without waiting for
// the one before to commit, and answers each, in the same order, once it is committed or refused.
//
//	request:  'A' | epoch (8) | offset (8) | length (4) | data
//	response: status (1) | epoch (8) | end (8) | length (2) | message
//
// Integers are big-endian. A replica that does not lead answers its first frame with statusNotLeader and
// the leader's API address as the message, then closes the connection.

const streamMagic byte = 0xEC

// Response statuses of the append stream.
const (
	statusOK byte = iota
	statusRefused
	statusNotLeader
	statusFailed
)

// sniffListener hands connections that start with streamMagic to stream and the others to HTTP (Accept).
type sniffListener struct {
	net.Listener
	stream func(net.Conn, *bufio.Reader)
	http   chan net.Conn
	done   chan struct{}
	once   sync.Once
}

func newSniffListener(ln net.Listener, stream func(net.Conn, *bufio.Reader)) *sniffListener {
	s := &sniffListener{Listener: ln, stream: stream, http: make(chan net.Conn), done: make(chan struct{})}
	go s.serve()
	return s
}

func (s *sniffListener) serve() {
	defer s.Close()
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			return
		}
		go func() {
			br := bufio.NewReaderSize(c, 64<<10)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			first, err := br.Peek(1)
			c.SetReadDeadline(time.Time{})
			if err != nil {
				c.Close()
				return
			}
			if first[0] == streamMagic {
				_, _ = br.Discard(1)
				s.stream(c, br)
				return
			}
			select {
			case s.http <- &bufferedConn{Conn: c, r: br}:
			case <-s.done:
				c.Close()
			}
		}()
	}
}

// Accept returns the next HTTP connection.
func (s *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.http:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *sniffListener) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.Listener.Close()
}

// bufferedConn is a connection whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveStream answers one append stream (see the protocol above).
func (r *Replica) serveStream(c net.Conn, br *bufio.Reader) {
	r.streams.Add(1)
	defer r.streams.Done()
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-r.closing:
			c.Close()
		case <-stop:
		}
	}()
	// Futures go to the writer in frame order; the channel bounds how many are in flight.
	futures := make(chan raft.ApplyFuture, 256)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		r.answerStream(c, futures)
	}()
	defer func() {
		close(futures)
		<-writerDone
	}()
	var head [21]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil || head[0] != cmdAppend {
			return
		}
		epoch, offset, n := binary.BigEndian.Uint64(head[1:]), binary.BigEndian.Uint64(head[9:]), binary.BigEndian.Uint32(head[17:])
		if n > maxAppend {
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(br, data); err != nil {
			return
		}
		if r.raft.State() != raft.Leader {
			futures <- notLeaderFuture{}
			return
		}
		futures <- r.raft.Apply(encode(cmdAppend, epoch, offset, data), applyTimeout)
	}
}

// notLeaderFuture stands for a frame this replica does not take: it does not lead.
type notLeaderFuture struct{ raft.ApplyFuture }

// answerStream writes the answer to each frame's future, in order.
func (r *Replica) answerStream(c net.Conn, futures <-chan raft.ApplyFuture) {
	w := bufio.NewWriterSize(c, 4<<10)
	broken := false
	for f := range futures {
		if broken {
			continue // drain
		}
		status, res, msg := statusOK, result{}, ""
		if _, ok := f.(notLeaderFuture); ok {
			status, msg = statusNotLeader, r.leaderAPI()
		} else if err := f.Error(); errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			status, msg = statusNotLeader, r.leaderAPI()
		} else if err != nil {
			status, msg = statusFailed, err.Error()
		} else if res, _ = f.Response().(result); res.Err != nil {
			status, msg = statusRefused, res.Err.Error()
		}
		var out [19]byte
		out[0] = status
		binary.BigEndian.PutUint64(out[1:], res.Epoch)
		binary.BigEndian.PutUint64(out[9:], res.End)
		msg = msg[:min(len(msg), 1<<15)]
		binary.BigEndian.PutUint16(out[17:], uint16(len(msg)))
		w.Write(out[:])
		w.WriteString(msg)
		if err := w.Flush(); err != nil || status == statusNotLeader {
			broken = true
		}
	}
}
