package txlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client talks to a log's replicas: it finds the leader, follows it when it changes, and retries a write
// until the log answers it (committed, or refused with a reason), within the caller's context.
type Client struct {
	replicas []string // API addresses
	http     *http.Client

	mu     sync.Mutex
	leader string
}

// NewClient returns a client of the log whose replicas' APIs are at addrs.
func NewClient(addrs []string) *Client {
	return &Client{replicas: addrs, http: &http.Client{Timeout: applyTimeout + 5*time.Second}}
}

// ErrUnavailable means no replica could commit the write within the caller's context: no leader (fewer than
// a quorum of replicas up) or none reachable.
var ErrUnavailable = errors.New("txlog: no log leader available")

// Append commits data at offset under epoch and returns the log's end after it. A retried write that is
// already in the log succeeds again without being written twice.
func (c *Client) Append(ctx context.Context, epoch, offset uint64, data []byte) (uint64, error) {
	_, end, err := c.command(ctx, "/append", epoch, offset, data)
	return end, err
}

// Fence raises the log's epoch: from now on only writes with this epoch are committed. It returns the end of
// the log, where the new writer starts.
func (c *Client) Fence(ctx context.Context, epoch uint64) (uint64, error) {
	_, end, err := c.command(ctx, "/fence", epoch, 0, nil)
	return end, err
}

func (c *Client) command(ctx context.Context, path string, epoch, offset uint64, data []byte) (uint64, uint64, error) {
	var last error = ErrUnavailable
	for attempt := 0; ; attempt++ {
		target := c.target(attempt)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+target+path, bytes.NewReader(data))
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("X-Epoch", strconv.FormatUint(epoch, 10))
		req.Header.Set("X-Offset", strconv.FormatUint(offset, 10))
		resp, err := c.http.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			gotEpoch, _ := strconv.ParseUint(resp.Header.Get("X-Epoch"), 10, 64)
			end, _ := strconv.ParseUint(resp.Header.Get("X-Offset"), 10, 64)
			switch resp.StatusCode {
			case http.StatusOK:
				c.setLeader(target)
				return gotEpoch, end, nil
			case http.StatusConflict:
				c.setLeader(target)
				return gotEpoch, end, refusal(strings.TrimSpace(string(body)))
			case http.StatusMisdirectedRequest:
				c.setLeader(resp.Header.Get("X-Leader"))
				last = ErrUnavailable
			default:
				last = fmt.Errorf("txlog: %s: %s", resp.Status, strings.TrimSpace(string(body)))
				c.setLeader("")
			}
		} else {
			last = err
			c.setLeader("")
		}
		if ctx.Err() != nil {
			return 0, 0, errors.Join(ErrUnavailable, last)
		}
		select {
		case <-ctx.Done():
			return 0, 0, errors.Join(ErrUnavailable, last)
		case <-time.After(backoff(attempt)):
		}
	}
}

// refusal maps a 409's reason back to its error.
func refusal(reason string) error {
	for _, err := range []error{ErrStaleEpoch, ErrGap, ErrOverlap} {
		if reason == err.Error() {
			return err
		}
	}
	return errors.New(reason)
}

func backoff(attempt int) time.Duration {
	return min(time.Duration(attempt+1)*20*time.Millisecond, 200*time.Millisecond)
}

// target is the replica to send the next attempt to: the known leader, else each replica in turn.
func (c *Client) target(attempt int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader != "" {
		return c.leader
	}
	return c.replicas[attempt%len(c.replicas)]
}

func (c *Client) setLeader(addr string) {
	c.mu.Lock()
	c.leader = addr
	c.mu.Unlock()
}

// Read returns up to max committed bytes from offset and the end of the log, as the leader sees it (every
// write committed before the call is included).
func (c *Client) Read(ctx context.Context, from uint64, max int) ([]byte, uint64, error) {
	return c.read(ctx, fmt.Sprintf("leader=1&from=%d&max=%d", from, max))
}

// Tail returns up to max committed bytes from offset, waiting up to wait for the log to grow when it ends
// there, and the end of the log as the replica that answered knows it. Any replica may answer (what it has
// applied is committed); the leader is asked first.
func (c *Client) Tail(ctx context.Context, from uint64, max int, wait time.Duration) ([]byte, uint64, error) {
	wait = min(wait, applyTimeout) // within the HTTP client's timeout
	return c.read(ctx, fmt.Sprintf("from=%d&max=%d&wait=%d", from, max, wait.Milliseconds()))
}

// read asks for /read?query until a replica answers it, following the leader a replica names.
func (c *Client) read(ctx context.Context, query string) ([]byte, uint64, error) {
	for attempt := 0; ; attempt++ {
		target := c.target(attempt)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/read?"+query, nil)
		if err != nil {
			return nil, 0, err
		}
		resp, err := c.http.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			end, _ := strconv.ParseUint(resp.Header.Get("X-Offset"), 10, 64)
			if resp.StatusCode == http.StatusOK && rerr == nil {
				c.setLeader(target)
				return body, end, nil
			}
			c.setLeader(resp.Header.Get("X-Leader"))
		} else {
			c.setLeader("")
		}
		select {
		case <-ctx.Done():
			return nil, 0, ErrUnavailable
		case <-time.After(backoff(attempt)):
		}
	}
}

// Status asks one replica (by API address) how it stands.
func (c *Client) Status(ctx context.Context, addr string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
