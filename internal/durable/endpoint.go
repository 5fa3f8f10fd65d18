package durable

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// Endpoint serves a durable primary's port in front of its engine: client commands go to the engine as they
// come, and the replies to a batch that holds a write go back only once the engine's WAIT 1 says the log has
// every write of the batch (the shipper being the primary's one replica). A client therefore never sees a
// write acknowledged that a failure could take back; while the log cannot commit, the reply waits. Nor
// does a client read what the log does not have yet: a read waits for the writes to its keys that were sent
// before it and are not logged yet (to any key when its keys are not known).
// Subscribers and MONITOR get a plain relay once they enter that mode.
//
// An async endpoint (SetAsync) answers writes as the engine does and follows how old the oldest write not
// yet logged is (the durability buffer, see durabilityBuffer); once that is over the window it refuses
// writes with CLUSTERDOWN until the log catches up, and reads go on.
type Endpoint struct {
	ln       net.Listener
	node     resp.Node     // the engine's own address (plain) and password
	done     chan struct{} // closed by Close
	replicas *Relay
	commands map[string]command
	inflight *inflight
	async    atomic.Bool
	window   time.Duration
	buffer   durabilityBuffer
	log      *slog.Logger
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	// iam turns IAM authentication tokens into engine passwords (EndpointConfig.IAM).
	iam func(user, token string) (string, bool, error)
}

// maxBatch bounds the commands of one client read together (and answered after one WAIT).
const maxBatch = 1024

// EndpointConfig says where an endpoint listens and what it serves.
type EndpointConfig struct {
	Addr   string
	Engine resp.Node
	// Relay serves the connections of replicas (REPLCONF, PSYNC, SYNC), which never reach the engine: a
	// replica of the engine would count in its WAIT. Without a relay they are refused.
	Relay *Relay
	// TLS, when set, is the server side of the TLS every connection must speak (clients and replicas); the
	// engine is reached in plain on its loopback address.
	TLS *tls.Config
	// Async answers writes before the log has them (Durability async); SetAsync changes it later.
	Async bool
	// Window is how old the oldest unlogged write of an async endpoint may grow before writes are refused
	// (DefaultWindow when zero).
	Window time.Duration
	// IAM, when set, takes the password a client gives with AUTH <user> <password> (or HELLO's AUTH): for
	// a user with IAM authentication (ok), an IAM authentication token, which it checks and turns into the
	// user's engine password; an error makes the engine refuse the AUTH. Other users' AUTH goes as it is.
	IAM    func(user, token string) (password string, ok bool, err error)
	Logger *slog.Logger
}

// ListenEndpoint starts an endpoint; it reads the engine's command table to tell writes from the rest.
func ListenEndpoint(ctx context.Context, cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	commands, err := commandTable(ctx, cfg.Engine)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS)
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	e := &Endpoint{ln: ln, node: cfg.Engine, done: make(chan struct{}), replicas: cfg.Relay, commands: commands, iam: cfg.IAM, inflight: newInflight(), window: cfg.Window, log: cfg.Logger, conns: map[net.Conn]struct{}{}}
	e.async.Store(cfg.Async)
	e.wg.Add(2)
	go e.accept()
	go e.followTheLog()
	return e, nil
}

// Addr is where the endpoint listens.
func (e *Endpoint) Addr() net.Addr { return e.ln.Addr() }

// SetAsync switches the endpoint between sync (a write is answered once logged) and async (answered at once,
// refused while the durability buffer is over the window), for the batches that follow.
func (e *Endpoint) SetAsync(on bool) {
	if was := e.async.Swap(on); was && !on {
		e.buffer.clear() // sync: nothing is answered before it is logged, the buffer stays empty
	}
}

// Stats are the endpoint's durability metrics as they stand.
func (e *Endpoint) Stats() DurabilityStats {
	st := DurabilityStats{DurabilityBufferExceededErrorCount: e.buffer.refused.Load()}
	if e.async.Load() {
		st.DurabilityLag = e.buffer.age(time.Now())
		st.TrafficManagementActive = e.buffer.refusing.Load()
	}
	return st
}

// Close stops listening and closes every connection.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if !e.closed {
		close(e.done)
	}
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
	_, args, _ := parseCommand(raw)
	return nameOf(args)
}

// nameOf is the lower-case name of a command given as its arguments.
func nameOf(args [][]byte) string {
	if len(args) == 0 {
		return ""
	}
	return strings.ToLower(string(args[0]))
}

// replicationCommands start a replica's conversation with its primary.
var replicationCommands = map[string]bool{"replconf": true, "psync": true, "sync": true}

// relayModes are the commands after which a connection is a plain relay: the engine pushes to it.
var relayModes = map[string]bool{"subscribe": true, "psubscribe": true, "ssubscribe": true, "monitor": true}

func (e *Endpoint) serve(client net.Conn) {
	if !e.track(client, true) {
		client.Close()
		return
	}
	defer e.track(client, false)
	defer client.Close()
	cr := resp.NewReader(client, 64<<10)
	engine, err := net.DialTimeout("tcp", e.node.Addr, 2*time.Second)
	if err != nil {
		e.log.Warn("durable endpoint: engine unreachable", "engine", e.node.Addr, "err", err)
		e.withoutEngine(client, cr)
		return
	}
	if !e.track(engine, true) {
		engine.Close()
		return
	}
	defer e.track(engine, false)
	defer engine.Close()
	e.forward(client, cr, engine)
}

// withoutEngine serves a connection while the engine is down: the shard's replicas still reach the relay
// (their handshake starts with PING, and AUTH), clients are told the engine is unavailable.
func (e *Endpoint) withoutEngine(client net.Conn, cr *resp.Reader) {
	for {
		raw, err := cr.ReadRaw(nil)
		if err != nil {
			return
		}
		switch name := commandName(raw); {
		case name == "ping":
			_, err = client.Write(resp.AppendSimple(nil, "PONG"))
		case replicationCommands[name] || name == "auth":
			// A replica's handshake goes on with the relay, which checks the AUTH itself.
			e.replica(client, nil, raw, cr, false)
			return
		default:
			_, _ = client.Write(resp.AppendError(nil, "LOADING the node's engine is not running"))
			return
		}
		if err != nil {
			return
		}
	}
}

// forward runs a client's commands on the engine, batch by batch.
func (e *Endpoint) forward(client net.Conn, cr *resp.Reader, engine net.Conn) {
	er := resp.NewReader(engine, 64<<10)
	var b batch
	var replies []byte
	var blockers []*pendingWrites
	authed := false
	for {
		if err := b.read(cr, e.commands); err != nil {
			return
		}
		if e.iam != nil && (slices.Contains(b.names, "auth") || slices.Contains(b.names, "hello")) {
			e.swapIAMTokens(&b)
		}
		if replicationCommands[b.first] {
			e.replica(client, engine, append(b.raw, b.carry...), cr, authed)
			return
		}
		var writes *pendingWrites
		asyncWrite := false
		switch {
		case b.write && e.async.Load():
			asyncWrite = e.asyncWrites(&b)
		case b.write:
			// Sent with the batch: every write of the batch is in the log once WAIT 1 returns (it blocks
			// until then; after writes that failed it returns at once).
			writes = e.inflight.begin(b.writeKeys, b.writeWild)
			b.raw = append(b.raw, waitForTheLog...)
			b.waits = true
		}
		replies, err := e.roundTrip(engine, er, &b, replies[:0])
		if writes != nil {
			e.inflight.end(writes, err == nil)
		}
		if asyncWrite && err == nil {
			e.buffer.wrote(time.Now()) // carried out: in the primary's stream, not known to be logged
		}
		if err != nil {
			return
		}
		// Writes sent before these reads ran were recorded before they were sent: those the log has not
		// acknowledged yet are waited for, so that no reply shows what a failure could take back.
		if b.readAny || len(b.readKeys) > 0 {
			blockers = e.inflight.before(blockers[:0], b.readKeys, b.readAny)
			if !wait(blockers) {
				return // those writes are lost with the engine: so are these reads
			}
		}
		if b.count == 1 && b.first == "auth" && bytes.HasPrefix(replies, []byte("+OK")) {
			authed = true // a replica's handshake authenticates before it turns to the relay
		}
		if _, err := client.Write(replies); err != nil {
			return
		}
		if b.relay {
			e.relay(client, engine, cr, er)
			return
		}
	}
}

var waitForTheLog = resp.AppendCommand(nil, "WAIT", "1", "0")

// roundTrip sends a batch to the engine and reads its replies (and WAIT's, which must say the log has the
// writes).
func (e *Endpoint) roundTrip(engine net.Conn, er *resp.Reader, b *batch, replies []byte) ([]byte, error) {
	if _, err := engine.Write(b.raw); err != nil {
		return replies, err
	}
	var err error
	written := false // a write of the batch was carried out (its reply is not an error)
	for i := range b.count {
		if b.refused != nil && b.refused[i] {
			if b.names[i] == "exec" {
				// Sent as DISCARD, which ends the transaction on the engine.
				if _, err = er.ReadRaw(nil); err != nil {
					return replies, err
				}
			}
			replies = append(replies, errBufferExceeded...)
			continue
		}
		start := len(replies)
		if replies, err = er.ReadRaw(replies); err != nil {
			return replies, err
		}
		written = written || b.writes[i] && replies[start] != '-'
	}
	if !b.waits {
		return replies, nil
	}
	v, err := er.ReadValue()
	if err != nil {
		return replies, err
	}
	// WAIT refuses on a replica, whose refusals of the batch's writes (MOVED, READONLY) go back as they
	// are; a write carried out and not known to be logged is never answered.
	if v.Type != resp.Integer && written || v.Type == resp.Integer && v.Int < 1 {
		return replies, fmt.Errorf("durable endpoint: WAIT answered %v", v)
	}
	return replies, nil
}

// asyncWrites readies an async write batch: sent as it is, or, while the durability buffer is over the
// window, with its writes refused. It reports whether the batch's writes go to the engine.
func (e *Endpoint) asyncWrites(b *batch) bool {
	if e.buffer.age(time.Now()) > e.window {
		e.buffer.refused.Add(uint64(b.refuseWrites()))
		e.buffer.refusing.Store(true)
		return false
	}
	e.buffer.refusing.Store(false)
	return true
}

// followTheLog keeps an async endpoint's durability buffer: every sampleEvery while writes are pending, it
// asks the engine (ROLE, on a connection of its own) for the primary's offset, which covers every write
// answered before, and the offset its replica, the shipper, acknowledged, which the log has. Writes leave
// the buffer once the log has the offset of their sample; the buffer's age is its oldest write's.
func (e *Endpoint) followTheLog() {
	defer e.wg.Done()
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	var c *resp.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		select {
		case <-e.done:
			return
		case <-t.C:
		}
		if !e.async.Load() || e.buffer.age(time.Now()) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if c == nil {
			c, _ = resp.Dial(ctx, e.node, resp.Options{DialTimeout: time.Second})
		}
		if c != nil {
			answered := e.buffer.takeUnsampled()
			v, err := c.Do(ctx, "ROLE")
			if primary, logged, ok := parseRole(v); err == nil && ok {
				e.buffer.sample(answered, primary, logged)
			} else {
				e.buffer.putBack(answered)
				if err != nil {
					c.Close()
					c = nil
				}
			}
		}
		cancel()
	}
}

// sampleEvery is how often an async endpoint with writes pending asks how far the log has them: it bounds
// how late the buffer learns of both.
const sampleEvery = 10 * time.Millisecond

// errBufferExceeded answers a write refused while the durability buffer is over the window.
var errBufferExceeded = resp.AppendError(nil, "CLUSTERDOWN writes are refused: the oldest write not yet in the transaction log is older than the durability window; retry with backoff")

// batch is the commands of one client read together: what the client pipelined, up to maxBatch.
type batch struct {
	raw     []byte
	count   int
	writes  []bool   // per command: it may write now (EXEC included)
	first   string   // the first command's name
	write   bool     // it holds writes that run now (not queued in a transaction left open)
	relay   bool     // it ends with a command after which the connection is a plain relay
	inMulti bool     // a transaction is open after it (kept from batch to batch)
	carry   []byte   // a command read that starts the next batch
	names   []string // per command: its name
	ends    []int    // per command: where it ends in raw
	refused []bool   // per command: refused rather than sent (nil when none is)
	waits   bool     // WAIT 1 0 follows the commands in raw: the writes are in the log once it returns

	writeKeys, readKeys []string
	writeWild, readAny  bool // writes or reads of keys not known
}

// read reads the next batch from the client.
func (b *batch) read(cr *resp.Reader, commands map[string]command) error {
	b.raw = append(b.raw[:0], b.carry...)
	b.count, b.write, b.relay, b.first, b.writes = 0, false, false, "", b.writes[:0]
	b.names, b.ends, b.refused, b.waits = b.names[:0], b.ends[:0], nil, false
	b.writeKeys, b.readKeys, b.writeWild, b.readAny = b.writeKeys[:0], b.readKeys[:0], false, false
	if len(b.carry) > 0 {
		b.carry = b.carry[:0]
		b.note(b.raw, commands)
		b.ends = append(b.ends, len(b.raw))
	}
	for b.count == 0 || (b.count < maxBatch && cr.Buffered().Buffered() > 0 && !b.relay) {
		start := len(b.raw)
		var err error
		if b.raw, err = cr.ReadRaw(b.raw); err != nil {
			return err
		}
		if b.count > 0 && replicationCommands[commandName(b.raw[start:])] {
			// It starts the next batch, and a replica's link.
			b.carry = append(b.carry, b.raw[start:]...)
			b.raw = b.raw[:start]
			break
		}
		b.note(b.raw[start:], commands)
		b.ends = append(b.ends, len(b.raw))
	}
	// Inside an open transaction a WAIT would be queued with it; its writes run (and are waited for) at
	// EXEC.
	b.write = b.write && !b.inMulti
	return nil
}

// note adds one command to the batch's bookkeeping.
func (b *batch) note(raw []byte, commands map[string]command) {
	_, args, _ := parseCommand(raw)
	name := nameOf(args)
	if b.count == 0 {
		b.first = name
	}
	b.count++
	cmd, known := commands[name]
	queued := b.inMulti && name != "exec" && name != "discard"
	switch name {
	case "multi":
		b.inMulti = true
	case "exec", "discard":
		b.inMulti = false
	}
	b.relay = relayModes[name]
	b.names = append(b.names, name)
	b.writes = append(b.writes, name == "exec" || !queued && cmd.write)
	switch {
	case name == "exec":
		// The transaction's writes and reads run now; which keys they touch is not looked at.
		b.write, b.writeWild, b.readAny = true, true, true
	case queued:
	case cmd.write:
		b.write = true
		if cmd.keysKnown() {
			b.writeKeys = appendKeys(b.writeKeys, cmd.keys(args))
		} else {
			b.writeWild = true
		}
	case !known || !cmd.read:
		// It reads no data: a connection's or the server's state, or it is not a command.
	case cmd.keysKnown():
		b.readKeys = appendKeys(b.readKeys, cmd.keys(args))
	default:
		// No keys to go by (DBSIZE, SCAN, KEYS, a read-only script): it may read any.
		b.readAny = true
	}
}

var discardCommand = resp.AppendCommand(nil, "DISCARD")

// refuseWrites takes the batch's writes out of it (an EXEC becomes DISCARD, ending the transaction on the
// engine), to be answered with errBufferExceeded, and returns how many there were.
func (b *batch) refuseWrites() int {
	raw := make([]byte, 0, len(b.raw))
	b.refused = make([]bool, b.count)
	n, start := 0, 0
	for i, end := range b.ends {
		switch {
		case !b.writes[i]:
			raw = append(raw, b.raw[start:end]...)
		case b.names[i] == "exec":
			raw = append(raw, discardCommand...)
			fallthrough
		default:
			b.refused[i] = true
			n++
		}
		start = end
	}
	b.raw, b.write = raw, false
	return n
}

func appendKeys(dst []string, keys [][]byte) []string {
	for _, k := range keys {
		dst = append(dst, string(k))
	}
	return dst
}

// replica hands a replica's connection to the relay (pending is what was read of it), or refuses it.
func (e *Endpoint) replica(client, engine net.Conn, pending []byte, cr *resp.Reader, authed bool) {
	if engine != nil {
		engine.Close()
	}
	if e.replicas == nil {
		_, _ = client.Write(resp.AppendError(nil, "ERR replicas of a durable node are fed by its log"))
		return
	}
	e.replicas.Serve(client, io.MultiReader(bytes.NewReader(pending), cr.Buffered()), authed)
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

// refusedPassword stands for an IAM token that did not check: no engine user has it.
const refusedPassword = "\x00refused IAM token"

// swapIAMTokens replaces the IAM authentication token of each AUTH or HELLO ... AUTH of the batch with
// the user's engine password, and a token that does not check with one the engine refuses.
func (e *Endpoint) swapIAMTokens(b *batch) {
	var out []byte
	start := 0
	for i, end := range b.ends {
		raw := b.raw[start:end]
		start = end
		if swapped, ok := e.swapIAMToken(b.names[i], raw); ok {
			raw = swapped
		}
		out = append(out, raw...)
		b.ends[i] = len(out)
	}
	b.raw = out
}

// swapIAMToken is command raw (named name) with the IAM token it authenticates with replaced, and whether
// it was one of an IAM user's AUTH or HELLO ... AUTH.
func (e *Endpoint) swapIAMToken(name string, raw []byte) ([]byte, bool) {
	_, args, _ := parseCommand(raw)
	at := -1 // where the user's name is
	switch {
	case name == "auth" && len(args) == 3:
		at = 1
	case name == "hello":
		for j := 2; j+2 < len(args) && at < 0; j++ {
			if strings.EqualFold(string(args[j]), "auth") {
				at = j + 1
			}
		}
	}
	if at < 0 {
		return nil, false
	}
	password, ok, err := e.iam(string(args[at]), string(args[at+1]))
	if err != nil {
		e.log.Info("durable endpoint: IAM authentication refused", "user", string(args[at]), "err", err)
		password, ok = refusedPassword, true
	}
	if !ok {
		return nil, false
	}
	strs := make([]string, len(args))
	for k, a := range args {
		strs[k] = string(a)
	}
	strs[at+1] = password
	return resp.AppendCommand(nil, strs...), true
}
