package replication

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp"

	"github.com/redis/go-redis/v9"
)

// Engines started by tests listen on a free port in [portLow, portHigh).
const (
	portLow  = 27000
	portHigh = 28000
)

// engines returns the engine binaries to run real-process tests against: redis-server (the test is skipped
// without it) and valkey-server when installed.
func engines(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	out := []string{"redis-server"}
	if _, err := exec.LookPath("valkey-server"); err == nil {
		out = append(out, "valkey-server")
	}
	return out
}

// forEachEngine runs f as a parallel subtest per installed engine.
func forEachEngine(t *testing.T, f func(t *testing.T, bin string)) {
	t.Helper()
	for _, bin := range engines(t) {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			f(t, bin)
		})
	}
}

// tlsFiles is a throwaway CA and a certificate for 127.0.0.1 signed by it, on disk for the engines and as a
// client configuration for the tests.
type tlsFiles struct {
	cert, key, ca string
	client        *tls.Config
}

type engineOpts struct {
	password string
	tls      *tlsFiles
	debug    bool   // allow DEBUG from loopback
	bind     string // the address to listen on (default 127.0.0.1)
	port     int    // the port (default: a free one)
}

// engine is one engine process started by a test.
type engine struct {
	t    *testing.T
	bin  string
	dir  string
	node resp.Node
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// startEngine starts bin on a free port and waits until it answers PING. The process (and any child it
// forked) is killed when the test ends.
func startEngine(t *testing.T, bin string, opts engineOpts) *engine {
	t.Helper()
	var lastErr error
	for range 20 {
		port, err := freePort()
		if opts.port != 0 {
			port, err = opts.port, nil
		}
		if err != nil {
			lastErr = err
			continue
		}
		e, err := tryStart(t, bin, port, opts)
		if err == nil {
			return e
		}
		lastErr = err
	}
	t.Fatalf("start %s: %v", bin, lastErr)
	return nil
}

func freePort() (int, error) {
	for range 100 {
		port := portLow + mrand.IntN(portHigh-portLow)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, errors.New("no free port in range")
}

func tryStart(t *testing.T, bin string, port int, opts engineOpts) (*engine, error) {
	dir := t.TempDir()
	p := strconv.Itoa(port)
	host := cmp.Or(opts.bind, "127.0.0.1")
	args := []string{
		"--bind", host, "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", filepath.Join(dir, "engine.log"),
		// Full syncs start at once instead of waiting 5 s for more replicas.
		"--repl-diskless-sync-delay", "0",
	}
	if opts.tls != nil {
		args = append(args, "--port", "0", "--tls-port", p,
			"--tls-cert-file", opts.tls.cert, "--tls-key-file", opts.tls.key, "--tls-ca-cert-file", opts.tls.ca,
			"--tls-auth-clients", "no", "--tls-replication", "yes")
	} else {
		args = append(args, "--port", p)
	}
	if opts.debug {
		args = append(args, "--enable-debug-command", "local")
	}
	if opts.password != "" {
		args = append(args, "--requirepass", opts.password, "--masterauth", opts.password)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &engine{t: t, bin: bin, dir: dir, cmd: cmd, done: make(chan struct{})}
	e.node = resp.Node{Addr: net.JoinHostPort(host, p), Password: opts.password}
	if opts.tls != nil {
		e.node.TLS = opts.tls.client
	}
	go func() {
		cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(func() {
		e.kill()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "engine.log")); err == nil {
				t.Logf("%s %s log:\n%s", bin, e.node.Addr, b)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-e.done:
			b, _ := os.ReadFile(filepath.Join(dir, "engine.log"))
			return nil, fmt.Errorf("%s on port %d exited: %s", bin, port, b)
		default:
		}
		if err := ping(e.node); err == nil {
			return e, nil
		} else if time.Now().After(deadline) {
			e.kill()
			return nil, fmt.Errorf("%s on port %d not answering: %w", bin, port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(n resp.Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := dial(ctx, n)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Do(ctx, "PING")
	return err
}

// kill sends SIGKILL to the engine's process group and waits for the engine to exit.
func (e *engine) kill() {
	e.once.Do(func() {
		syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	})
}

// client returns a go-redis client for the engine that never retries on its own.
func (e *engine) client() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:            e.node.Addr,
		Password:        e.node.Password,
		TLSConfig:       e.node.TLS,
		Protocol:        2,
		DisableIdentity: true,
		MaxRetries:      -1,
		DialTimeout:     time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
	})
	e.t.Cleanup(func() { c.Close() })
	return c
}

// newTLSFiles writes a throwaway CA and a certificate for 127.0.0.1 (server and client use) into a temporary
// directory.
func newTLSFiles(t *testing.T) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "replication test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFiles{
		cert: filepath.Join(dir, "node.crt"),
		key:  filepath.Join(dir, "node.key"),
		ca:   filepath.Join(dir, "ca.crt"),
	}
	for path, block := range map[string]*pem.Block{
		f.cert: {Type: "CERTIFICATE", Bytes: der},
		f.key:  {Type: "PRIVATE KEY", Bytes: keyDER},
		f.ca:   {Type: "CERTIFICATE", Bytes: caDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	f.client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return f
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
