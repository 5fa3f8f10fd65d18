package rdb

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// Engines started by these tests listen on ports 28000-28099, below the kernel's ephemeral range.
var nextPort = 28000

// startEngine runs bin in dir (loading dir/dump.rdb if present) with a password, and stops it with the test.
func startEngine(t *testing.T, bin, dir, password string) *redis.Client {
	t.Helper()
	for ; nextPort < 28100; nextPort++ {
		port := nextPort
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		nextPort++
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
			"--appendonly", "no", "--requirepass", password, "--repl-diskless-sync-delay", "0", "--logfile", filepath.Join(dir, "engine.log"))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Password: password})
		t.Cleanup(func() { c.Close() })
		for deadline := time.Now().Add(10 * time.Second); ; {
			if err := c.Ping(context.Background()).Err(); err == nil {
				return c
			} else if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "engine.log"))
				t.Fatalf("%s did not start: %v\n%s", bin, err, log)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatal("no free port in 28000-28099")
	return nil
}

func engines(t *testing.T) []string {
	if testing.Short() {
		t.Skip("real-engine test skipped in -short mode")
	}
	var out []string
	for _, bin := range []string{"redis-server", "valkey-server"} {
		if _, err := exec.LookPath(bin); err == nil {
			out = append(out, bin)
		}
	}
	if len(out) == 0 {
		t.Skip("no engine installed")
	}
	return out
}

// TestFetchRoundTrip copies a dataset of every type with Fetch and loads the file into a new engine: every
// key, value and expiry comes back.
func TestFetchRoundTrip(t *testing.T) {
	for _, bin := range engines(t) {
		t.Run(bin, func(t *testing.T) {
			ctx := context.Background()
			src := startEngine(t, bin, t.TempDir(), "secret")
			big := strings.Repeat(strconv.Itoa(rand.Int()), 300_000) // spans many reads
			p := src.Pipeline()
			for i := range 5000 {
				p.Set(ctx, fmt.Sprintf("s%d", i), i, 0)
			}
			p.Set(ctx, "big", big, 0)
			p.HSet(ctx, "h", "a", "1", "b", "2")
			p.RPush(ctx, "l", "x", "y", "z")
			p.SAdd(ctx, "set", "m", "n")
			p.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "one"}, redis.Z{Score: 2, Member: "two"})
			p.Set(ctx, "ttl", "v", time.Hour)
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			f, err := os.Create(filepath.Join(dir, "dump.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := Fetch(ctx, resp.Node{Addr: src.Options().Addr, Password: "secret"}, f)
			f.Close()
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if st, _ := os.Stat(f.Name()); st.Size() != n || n < 5000 {
				t.Fatalf("Fetch reported %d bytes, file has %d", n, st.Size())
			}
			dst := startEngine(t, bin, dir, "other")
			if got := dst.DBSize(ctx).Val(); got != 5006 {
				t.Errorf("restored DBSIZE = %d, want 5006", got)
			}
			for i := range 5000 {
				if v := dst.Get(ctx, fmt.Sprintf("s%d", i)).Val(); v != strconv.Itoa(i) {
					t.Fatalf("s%d = %q", i, v)
				}
			}
			if v := dst.Get(ctx, "big").Val(); v != big {
				t.Errorf("big: %d bytes, want %d", len(v), len(big))
			}
			if h := dst.HGetAll(ctx, "h").Val(); h["a"] != "1" || h["b"] != "2" || len(h) != 2 {
				t.Errorf("hash = %v", h)
			}
			if l := dst.LRange(ctx, "l", 0, -1).Val(); strings.Join(l, "") != "xyz" {
				t.Errorf("list = %v", l)
			}
			if s := dst.SMembers(ctx, "set").Val(); len(s) != 2 {
				t.Errorf("set = %v", s)
			}
			if z := dst.ZRangeWithScores(ctx, "z", 0, -1).Val(); len(z) != 2 || z[0].Score != 1.5 || z[0].Member != "one" {
				t.Errorf("sorted set = %v", z)
			}
			if ttl := dst.TTL(ctx, "ttl").Val(); ttl <= 0 || ttl > time.Hour {
				t.Errorf("TTL = %v, want within (0, 1h]", ttl)
			}
			if ttl := dst.TTL(ctx, "s1").Val(); ttl != -1 {
				t.Errorf("TTL of a key without expiry = %v", ttl)
			}
		})
	}
}

// fakeEngine answers +OK to everything before SYNC, then sends reply and closes.
func fakeEngine(t *testing.T, reply []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if !strings.HasPrefix(line, "*") {
				continue
			}
			n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			var args []string
			for range n {
				r.ReadString('\n')
				a, _ := r.ReadString('\n')
				args = append(args, strings.TrimSpace(a))
			}
			if args[0] == "SYNC" {
				c.Write(reply)
				return
			}
			c.Write([]byte("+OK\r\n"))
		}
	}()
	return l.Addr().String()
}

// TestFetchRefusesIncompleteFiles: a transfer cut short, or something that is not an RDB file, is an error,
// never a success.
func TestFetchRefusesIncompleteFiles(t *testing.T) {
	mark := strings.Repeat("m", 40)
	complete := append([]byte("REDIS0011\x00"), append([]byte{0xFF}, make([]byte, 8)...)...)
	tests := []struct {
		name  string
		reply []byte
		want  string
	}{
		{"length cut short", []byte("\n\n$100\r\nREDIS0011"), "before the end"},
		{"end mark never sent", []byte("$EOF:" + mark + "\r\nREDIS0011 and then nothing"), "before the end"},
		{"no end opcode", []byte("$EOF:" + mark + "\r\nREDIS0011xxxxxxxxxxxxxxxxx" + mark), "before the end"},
		{"not an RDB file", []byte("$5\r\nhello"), "not an RDB file"},
		{"refused", []byte("-ERR no sync for you\r\n"), "no sync for you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Fetch(context.Background(), resp.Node{Addr: fakeEngine(t, tt.reply)}, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fetch = %v, want an error with %q", err, tt.want)
			}
		})
	}
	t.Run("complete", func(t *testing.T) {
		var out bytes.Buffer
		reply := append([]byte("$EOF:"+mark+"\r\n"), append(complete, mark...)...)
		n, err := Fetch(context.Background(), resp.Node{Addr: fakeEngine(t, reply)}, &out)
		if err != nil || n != int64(len(complete)) || !bytes.Equal(out.Bytes(), complete) {
			t.Errorf("Fetch = %d, %v; got %q, want %q", n, err, out.Bytes(), complete)
		}
	})
}
