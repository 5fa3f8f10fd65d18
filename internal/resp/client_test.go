package resp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp/resptest"
)

// fakeEngine reads commands and answers each with reply(args).
func fakeEngine(t *testing.T, reply func(args []string) string) string {
	t.Helper()
	return resptest.Serve(t, func(nc net.Conn) {
		defer nc.Close()
		r := NewReader(nc, 0)
		w := bufio.NewWriter(nc)
		for {
			v, err := r.ReadValue()
			if err != nil {
				return
			}
			args := make([]string, len(v.Elems))
			for i, e := range v.Elems {
				args[i] = e.Str
			}
			w.WriteString(reply(args))
			if r.Buffered().Buffered() == 0 {
				w.Flush()
			}
		}
	})
}

func echoEngine(t *testing.T, password string) string {
	return fakeEngine(t, func(args []string) string {
		switch strings.ToUpper(args[0]) {
		case "AUTH":
			if args[len(args)-1] != password {
				return "-WRONGPASS invalid username-password pair\r\n"
			}
			return "+OK\r\n"
		case "ECHO":
			return string(AppendBulkString(nil, args[1]))
		case "INCR":
			return ":1\r\n"
		}
		return "-ERR unknown command '" + args[0] + "'\r\n"
	})
}

func TestConn(t *testing.T) {
	ctx := t.Context()
	addr := echoEngine(t, "secret")
	c, err := Dial(ctx, Node{Addr: addr, Password: "secret"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s, err := String(c.Do(ctx, "ECHO", "a\r\nb")); err != nil || s != "a\r\nb" {
		t.Errorf("ECHO = %q, %v", s, err)
	}
	if n, err := Int(c.Do(ctx, "INCR", "k")); err != nil || n != 1 {
		t.Errorf("INCR = %d, %v", n, err)
	}
	_, err = c.Do(ctx, "NOPE")
	var ee Error
	if !errors.As(err, &ee) || ee.Code() != "ERR" || errors.Is(err, ErrUnreachable) {
		t.Errorf("unknown command: %v, want an Error with code ERR", err)
	}
	vs, err := c.Pipeline(ctx, []string{"ECHO", "1"}, []string{"NOPE"}, []string{"ECHO", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].Str != "1" || vs[1].Err() == nil || vs[2].Str != "3" {
		t.Errorf("Pipeline = %+v", vs)
	}
	if _, err := Int(c.Do(ctx, "ECHO", "x")); err == nil {
		t.Error("Int of a bulk string: no error")
	}

	_, err = Dial(ctx, Node{Addr: addr, Password: "wrong"}, Options{})
	if !errors.As(err, &ee) || ee.Code() != "WRONGPASS" {
		t.Errorf("Dial with a wrong password: %v, want WRONGPASS", err)
	}
}

// TestUnreachable: a refused connection, a silent engine with and without TLS, and a context that ends
// mid-call each end the call with ErrUnreachable or the context's error, and leave the connection unusable.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	dead, hung := resptest.DeadAddr(t), resptest.HungAddr(t)
	for _, tc := range []struct {
		name string
		node Node
		ctx  time.Duration
		want error
	}{
		{"refused", Node{Addr: dead}, 5 * time.Second, ErrUnreachable},
		{"hung", Node{Addr: hung}, 0, ErrUnreachable},
		{"hung, context ends first", Node{Addr: hung}, 100 * time.Millisecond, context.DeadlineExceeded},
		{"hung tls", Node{Addr: hung, TLS: &tls.Config{MinVersion: tls.VersionTLS12}}, 0, ErrUnreachable},
		{"hung auth", Node{Addr: hung, Password: "x"}, 0, ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			opts := Options{DialTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond}
			c, err := Dial(ctx, tc.node, opts)
			if err == nil {
				defer c.Close()
				_, err = c.Do(ctx, "PING")
				if _, again := c.Do(context.Background(), "PING"); !errors.Is(again, err) && again.Error() != err.Error() {
					t.Errorf("second call on a broken connection: %v, want %v", again, err)
				}
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCancel: cancelling the context interrupts a call blocked on a silent engine long before its timeout.
func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Dial(ctx, Node{Addr: resptest.HungAddr(t)}, Options{ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.AfterFunc(50*time.Millisecond, cancel)
	errc := make(chan error, 1)
	go func() { _, err := c.Do(ctx, "PING"); errc <- err }()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked 30s after the context was cancelled")
	}
}

// TestUnixSocket talks to an engine on a Unix socket, as the scratch engines of restores listen.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := NewReader(nc, 0)
		for {
			if _, err := r.ReadValue(); err != nil {
				return
			}
			nc.Write([]byte("+PONG\r\n"))
		}
	}()
	c, err := Dial(t.Context(), Node{Addr: sock}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s, err := String(c.Do(t.Context(), "PING")); err != nil || s != "PONG" {
		t.Errorf("PING over a Unix socket = %q, %v", s, err)
	}
}
