package rdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
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

	"github.com/ecache/ecache/internal/certs"
)

// TestFetchOverTLS copies a dataset from an engine that serves TLS only (on Valkey the forked child writes
// the file to the TLS connection itself) and loads it into a new engine: every key arrives.
func TestFetchOverTLS(t *testing.T) {
	for _, bin := range engines(t) {
		t.Run(bin, func(t *testing.T) {
			ctx := context.Background()
			files, err := certs.Ensure(t.TempDir(), []string{"127.0.0.1"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			port := 28090
			if bin == "valkey-server" {
				port = 28091
			}
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
				t.Skipf("port %d busy", port)
			} else {
				l.Close()
			}
			dir := t.TempDir()
			cmd := exec.Command(bin, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
				"--tls-cert-file", files.CertFile, "--tls-key-file", files.KeyFile, "--tls-ca-cert-file", files.CAFile, "--tls-auth-clients", "no",
				"--tls-replication", "yes", "--repl-diskless-sync-delay", "0", "--logfile", filepath.Join(dir, "engine.log"))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			ca, _ := os.ReadFile(files.CAFile)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			clientTLS := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
			src := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), TLSConfig: clientTLS})
			defer src.Close()
			for deadline := time.Now().Add(10 * time.Second); src.Ping(ctx).Err() != nil; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					log, _ := os.ReadFile(filepath.Join(dir, "engine.log"))
					t.Fatalf("%s with TLS did not start:\n%s", bin, log)
				}
			}
			p := src.Pipeline()
			for i := range 20000 {
				p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
			}
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			f, err := os.Create(filepath.Join(out, "dump.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Fetch(ctx, resp.Node{Addr: src.Options().Addr, TLS: clientTLS}, f); err != nil {
				t.Fatalf("Fetch over TLS: %v", err)
			}
			f.Close()
			dst := startEngine(t, bin, out, "x")
			if n := dst.DBSize(ctx).Val(); n != 20000 {
				t.Errorf("restored DBSIZE = %d, want 20000", n)
			}
			if v := dst.Get(ctx, "k19999").Val(); v != "19999" {
				t.Errorf("k19999 = %q", v)
			}
			if log, _ := os.ReadFile(filepath.Join(dir, "engine.log")); bin == "valkey-server" && !strings.Contains(string(log), "to direct socket") {
				t.Errorf("valkey relayed the file through its main thread instead of an RDB channel:\n%s", log)
			}
		})
	}
}
