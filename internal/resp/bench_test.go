package resp

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// replay is an io.Reader that serves the same bytes forever.
type replay struct {
	data []byte
	off  int
}

func (r *replay) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// BenchmarkReadValue decodes typical replies from a buffered stream.
func BenchmarkReadValue(b *testing.B) {
	for _, tc := range []struct{ name, reply string }{
		{"simple", "+OK\r\n"},
		{"bulk-64", string(AppendBulkString(nil, strings.Repeat("v", 64)))},
		{"array-10", func() string {
			var out []byte
			out = AppendArrayHeader(out, 10)
			for i := range 10 {
				out = AppendBulkString(out, "member-"+strconv.Itoa(i))
			}
			return string(out)
		}()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := NewReader(&replay{data: []byte(tc.reply)}, 64<<10)
			b.SetBytes(int64(len(tc.reply)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadValue(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/raw", func(b *testing.B) {
			r := NewReader(&replay{data: []byte(tc.reply)}, 64<<10)
			buf := make([]byte, 0, 4096)
			b.SetBytes(int64(len(tc.reply)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = r.ReadRaw(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendCommand encodes a SET into a reused buffer.
func BenchmarkAppendCommand(b *testing.B) {
	value := strings.Repeat("v", 64)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommand(buf[:0], "SET", "key:000001", value)
	}
}

// BenchmarkRoundTrip runs GET and a pipeline of 16 GETs against a real engine, through this package's Conn
// and through go-redis side by side (the two numbers of one run are the comparison). Skipped without
// valkey-server or redis-server.
func BenchmarkRoundTrip(b *testing.B) {
	addr := startEngine(b)
	ctx := context.Background()
	c, err := Dial(ctx, Node{Addr: addr}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	gr := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 1, DisableIdentity: true})
	defer gr.Close()
	if _, err := c.Do(ctx, "SET", "k", strings.Repeat("v", 64)); err != nil {
		b.Fatal(err)
	}
	pipe := make([][]string, 16)
	for i := range pipe {
		pipe[i] = []string{"GET", "k"}
	}
	b.Run("resp/get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Do(ctx, "GET", "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis/get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := gr.Get(ctx, "k").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("resp/pipeline-16", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Pipeline(ctx, pipe...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-redis/pipeline-16", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := gr.Pipeline()
			for range 16 {
				p.Get(ctx, "k")
			}
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// startEngine runs a throwaway valkey-server (or redis-server) on a free port for the benchmark.
func startEngine(b *testing.B) string {
	binary, err := exec.LookPath("valkey-server")
	if err != nil {
		if binary, err = exec.LookPath("redis-server"); err != nil {
			b.Skip("no valkey-server or redis-server")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := b.TempDir()
	cmd := exec.Command(binary, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait(); _ = os.RemoveAll(dir) })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := Dial(context.Background(), Node{Addr: addr}, Options{}); err == nil {
			_, err = c.Do(context.Background(), "PING")
			c.Close()
			if err == nil {
				return addr
			}
		}
	}
	b.Fatal("engine did not answer")
	return ""
}
