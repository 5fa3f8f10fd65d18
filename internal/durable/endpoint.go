package durable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// Endpoint serves a durable primary's port in front of its engine: client commands go to the engine as they
// come, and the replies to a batch that holds a write go back only once the engine's WAIT 1 says the log has
// every write of the batch (the shipper being the primary's one replica). A client therefore never sees a
// write acknowledged that a failure could take back; while the log cannot commit, the reply waits.
// Subscribers and MONITOR get a plain relay once they enter that mode.
type Endpoint struct {
	ln     net.Listener
	engine string // the engine's own address
	writes map[string]bool
	log    *slog.Logger
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// maxBatch bounds the commands of one client read together (and answered after one WAIT).
const maxBatch = 1024

// ListenEndpoint starts an endpoint on addr for the engine at engine; it reads the engine's command table
// to tell writes from the rest.
func ListenEndpoint(ctx context.Context, addr string, engine resp.Node, logger *slog.Logger) (*Endpoint, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	writes, err := writeCommands(ctx, engine)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{ln: ln, engine: engine.Addr, writes: writes, log: logger, conns: map[net.Conn]struct{}{}}
	e.wg.Add(1)
	go e.accept()
	return e, nil
}

// writeCommands lists the engine's commands that may write (COMMAND: flag write or may_replicate), and
// EXEC, whose transaction may.
func writeCommands(ctx context.Context, n resp.Node) (map[string]bool, error) {
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	table, err := c.Do(ctx, "COMMAND")
	if err != nil {
		return nil, fmt.Errorf("durable: COMMAND: %w", err)
	}
	out := map[string]bool{"exec": true}
	for _, cmd := range table.Elems {
		if len(cmd.Elems) < 3 {
			continue
		}
		for _, f := range cmd.Elems[2].Elems {
			if f.Str == "write" || f.Str == "may_replicate" {
				out[strings.ToLower(cmd.Elems[0].Str)] = true
			}
		}
	}
	if len(out) < 10 {
		return nil, errors.New("durable: COMMAND lists no write commands")
	}
	return out, nil
}

// Addr is where the endpoint listens.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// Close stops listening and closes every connection.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.closed = true
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	err := e.ln.Close()
	e.wg.Wait()
	return err
}

func (e *Endpoint) track(c net.Conn, add bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if add && e.closed {
		return false
	}
	if add {
		e.conns[c] = struct{}{}
	} else {
		delete(e.conns, c)
	}
	return true
}

func (e *Endpoint) accept() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.serve(c)
		}()
	}
}

// commandName is the lower-case name of a raw RESP command (an array of bulk strings).
func commandName(raw []byte) string {
	// *<n>\r\n$<len>\r\n<name>\r\n
	_, rest, ok := bytes.Cut(raw, []byte("\r\n"))
	if !ok {
		return ""
	}
	_, rest, ok = bytes.Cut(rest, []byte("\r\n"))
	if !ok {
		return ""
	}
	name, _, _ := bytes.Cut(rest, []byte("\r\n"))
	return strings.ToLower(string(name))
}

// relayModes are the commands after which a connection is a plain relay: the engine pushes to it.
var relayModes = map[string]bool{"subscribe": true, "psubscribe": true, "ssubscribe": true, "monitor": true}

func (e *Endpoint) serve(client net.Conn) {
	if !e.track(client, true) {
		client.Close()
		return
	}
	defer e.track(client, false)
	defer client.Close()
	engine, err := net.DialTimeout("tcp", e.engine, 2*time.Second)
	if err != nil {
		e.log.Warn("durable endpoint: engine unreachable", "engine", e.engine, "err", err)
		return
	}
	if !e.track(engine, true) {
		engine.Close()
		return
	}
	defer e.track(engine, false)
	defer engine.Close()
	cr, er := resp.NewReader(client, 64<<10), resp.NewReader(engine, 64<<10)
	wait := resp.AppendCommand(nil, "WAIT", "1", "0")
	var batch, replies []byte
	inMulti := false // a transaction is open: its commands are queued, not run
	for {
		batch, replies = batch[:0], replies[:0]
		count, write, relay := 0, false, false
		for count == 0 || (count < maxBatch && cr.Buffered().Buffered() > 0 && !relay) {
			start := len(batch)
			if batch, err = cr.ReadRaw(batch); err != nil {
				return
			}
			name := commandName(batch[start:])
			write = write || e.writes[name]
			relay = relayModes[name]
			switch name {
			case "multi":
				inMulti = true
			case "exec", "discard":
				inMulti = false
			}
			count++
		}
		// Inside an open transaction a WAIT would be queued with it; its writes run (and are waited for)
		// at EXEC.
		write = write && !inMulti
		if write {
			// Sent with the batch: every write of the batch is in the log once WAIT 1 returns (it blocks
			// until then; after writes that failed it returns at once).
			batch = append(batch, wait...)
		}
		if _, err := engine.Write(batch); err != nil {
			return
		}
		for range count {
			if replies, err = er.ReadRaw(replies); err != nil {
				return
			}
		}
		if write {
			if _, err := er.ReadValue(); err != nil {
				return
			}
		}
		if _, err := client.Write(replies); err != nil {
			return
		}
		if relay {
			e.relay(client, engine, cr, er)
			return
		}
	}
}

// relay copies both ways, what the readers already hold first.
func (e *Endpoint) relay(client, engine net.Conn, cr, er *resp.Reader) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(engine, cr.Buffered())
		engine.Close()
		close(done)
	}()
	_, _ = io.Copy(client, er.Buffered())
	client.Close()
	<-done
}
