package endpoint

import (
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func newForwarder(t testing.TB, backends ...string) *Forwarder {
	t.Helper()
	f, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if len(backends) > 0 {
		f.SetBackends(backends, false)
	}
	return f
}

func TestForwarderRoundRobin(t *testing.T) {
	r1, r2 := startRedis(t), startRedis(t)
	p1, p2 := portOf(t, r1), portOf(t, r2)

	tests := []struct {
		name     string
		backends []string
		want     []string // backend port reached by consecutive connections
	}{
		{"single backend", []string{r1}, []string{p1, p1, p1}},
		{"two backends alternate", []string{r1, r2}, []string{p1, p2, p1, p2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newForwarder(t, tt.backends...)
			var got []string
			for range tt.want {
				c := dial(t, f.Addr().String())
				got = append(got, redisPort(t, c))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ports reached = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestForwarderInfoServerPort(t *testing.T) {
	r1 := startRedis(t)
	f := newForwarder(t, r1)
	c := dial(t, f.Addr().String())
	info, err := redisDo(c, "INFO", "server")
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	want := "tcp_port:" + portOf(t, r1) + "\r\n"
	if !strings.Contains(info, want) {
		t.Errorf("INFO server through forwarder lacks %q", want)
	}
}

func TestForwarderSetBackends(t *testing.T) {
	r1, r2 := startRedis(t), startRedis(t)
	p1, p2 := portOf(t, r1), portOf(t, r2)

	tests := []struct {
		name          string
		from, to      []string
		closeExisting bool
		wantOldClosed bool
		wantNew       []string // ports a new connection may reach
	}{
		{"failover closes old connections", []string{r1}, []string{r2}, true, true, []string{p2}},
		{"re-point keeps old connections", []string{r1}, []string{r2}, false, false, []string{p2}},
		{"backend kept in set is not closed", []string{r1}, []string{r1, r2}, true, false, []string{p1, p2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newForwarder(t, tt.from...)
			old := dial(t, f.Addr().String())
			if got, want := redisPort(t, old), p1; got != want {
				t.Fatalf("before SetBackends: port = %s, want %s", got, want)
			}

			f.SetBackends(tt.to, tt.closeExisting)
			if got := f.Backends(); !slices.Equal(got, tt.to) {
				t.Errorf("Backends() = %v, want %v", got, tt.to)
			}

			if tt.wantOldClosed {
				expectClosed(t, old)
			} else if got, want := redisPort(t, old), p1; got != want {
				t.Errorf("old connection: port = %s, want %s", got, want)
			}

			fresh := dial(t, f.Addr().String())
			if got := redisPort(t, fresh); !slices.Contains(tt.wantNew, got) {
				t.Errorf("new connection: port = %s, want one of %v", got, tt.wantNew)
			}
		})
	}
}

func TestForwarderDialFailover(t *testing.T) {
	live := startRedis(t)
	dead := deadAddr(t)
	pl := portOf(t, live)

	tests := []struct {
		name     string
		backends []string
		want     []string
	}{
		{"dead first", []string{dead, live}, []string{pl, pl, pl}},
		{"dead last", []string{live, dead}, []string{pl, pl, pl}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newForwarder(t, tt.backends...)
			var got []string
			for range tt.want {
				got = append(got, redisPort(t, dial(t, f.Addr().String())))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ports reached = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestForwarderNoReachableBackend(t *testing.T) {
	tests := []struct {
		name     string
		backends []string
	}{
		{"no backends", nil},
		{"all backends dead", []string{deadAddr(t), deadAddr(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newForwarder(t)
			f.SetBackends(tt.backends, false)
			expectClosed(t, dial(t, f.Addr().String()))
		})
	}
}

// TestForwarderHalfClose checks that a client's half-close reaches the
// backend while the backend's reply still reaches the client.
func TestForwarderHalfClose(t *testing.T) {
	// A backend that reads until end of stream, then answers with the
	// number of bytes it read and closes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				io.WriteString(c, strconv.FormatInt(n, 10))
			}()
		}
	}()

	f := newForwarder(t, ln.Addr().String())
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 5},
		{"1 MiB", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, f.Addr().String()).(*net.TCPConn)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(make([]byte, tt.size)); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatalf("CloseWrite: %v", err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if want := strconv.Itoa(tt.size); string(got) != want {
				t.Errorf("backend counted %q bytes, want %s", got, want)
			}
		})
	}
}

func TestForwarderCloseNoGoroutineLeak(t *testing.T) {
	r1 := startRedis(t)
	dead := deadAddr(t)
	settle()
	before := runtime.NumGoroutine()

	f, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	f.SetBackends([]string{dead, r1}, false)
	var clients []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", f.Addr().String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		clients = append(clients, c)
		if _, err := redisDo(c, "PING"); err != nil {
			t.Fatalf("PING: %v", err)
		}
	}
	// One idle connection that never sent anything.
	idle, err := net.Dial("tcp", f.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	clients = append(clients, idle)

	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, c := range clients {
		expectClosed(t, c)
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", f.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("dial after Close succeeded")
	}

	if got := waitGoroutines(before); got > before {
		t.Errorf("goroutines after Close = %d, want <= %d\n%s", got, before, goroutineDump())
	}
}

// settle gives goroutines of earlier work a moment to finish.
func settle() {
	for range 5 {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGoroutines waits up to 3s for the goroutine count to drop to want and
// returns the last count seen.
func waitGoroutines(want int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
