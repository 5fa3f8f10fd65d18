package txlog

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Pipeline is an append stream to the log's leader (see stream.go): appends are sent as they come, several
// in flight, and answered in the order they were sent. It is for one writer: Send from one goroutine,
// Receive from one (possibly another).
type Pipeline struct {
	conn net.Conn
	w    *bufio.Writer
	r    *bufio.Reader
	c    *Client
}

// ErrNotLeader means the replica the pipeline reached does not lead the log (any more): open another.
var ErrNotLeader = errors.New("txlog: the replica does not lead the log")

// OpenPipeline opens an append stream to the log's leader, as the replicas know it.
func (c *Client) OpenPipeline(ctx context.Context) (*Pipeline, error) {
	for attempt := 0; ; attempt++ {
		leader := c.knownLeader()
		if leader == "" {
			for _, addr := range c.replicas {
				if st, err := c.Status(ctx, addr); err == nil && st.Leader != "" {
					leader = st.Leader
					break
				}
			}
		}
		if leader != "" {
			var d net.Dialer
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			conn, err := d.DialContext(dctx, "tcp", leader)
			cancel()
			if err == nil {
				if _, err = conn.Write([]byte{streamMagic}); err == nil {
					c.setLeader(leader)
					return &Pipeline{conn: conn, w: bufio.NewWriterSize(conn, 64<<10), r: bufio.NewReaderSize(conn, 4<<10), c: c}, nil
				}
				conn.Close()
			}
			c.setLeader("")
		}
		select {
		case <-ctx.Done():
			return nil, ErrUnavailable
		case <-time.After(backoff(attempt)):
		}
	}
}

func (c *Client) knownLeader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Send sends an append of data at offset under epoch; its answer comes from Receive, after those of the
// appends sent before.
func (p *Pipeline) Send(epoch, offset uint64, data []byte) error {
	var head [21]byte
	head[0] = cmdAppend
	binary.BigEndian.PutUint64(head[1:], epoch)
	binary.BigEndian.PutUint64(head[9:], offset)
	binary.BigEndian.PutUint32(head[17:], uint32(len(data)))
	p.w.Write(head[:])
	p.w.Write(data)
	return p.w.Flush()
}

// Receive returns the answer to the oldest append not answered yet: the end of the log after it, or why it
// was refused (ErrStaleEpoch, ErrGap, ErrOverlap), ErrNotLeader, or the connection's error.
func (p *Pipeline) Receive() (uint64, error) {
	var head [19]byte
	if _, err := io.ReadFull(p.r, head[:]); err != nil {
		return 0, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(head[17:]))
	if _, err := io.ReadFull(p.r, msg); err != nil {
		return 0, err
	}
	end := binary.BigEndian.Uint64(head[9:])
	switch head[0] {
	case statusOK:
		return end, nil
	case statusRefused:
		return end, refusal(string(msg))
	case statusNotLeader:
		p.c.setLeader(string(msg))
		return end, ErrNotLeader
	default:
		return end, fmt.Errorf("txlog: append failed: %s", msg)
	}
}

// Close closes the stream; appends not answered yet may or may not be committed.
func (p *Pipeline) Close() error { return p.conn.Close() }
