package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureCreatesTrustedServerCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, []string{"127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, pool := loadFiles(t, f)
	caPEM, _ := os.ReadFile(f.CAFile)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range []string{"127.0.0.1", "localhost"} {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("handshake verifying %s: %v", name, err)
			continue
		}
		c.Close()
		break
	}
	// A second call keeps the same files; a new host renews only the server certificate.
	before, _ := os.ReadFile(f.CertFile)
	if _, err := Ensure(dir, []string{"127.0.0.1"}, now); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(f.CertFile); string(again) != string(before) {
		t.Error("certificate rewritten although it still covers the hosts")
	}
	if _, err := Ensure(dir, []string{"127.0.0.2"}, now); err != nil {
		t.Fatal(err)
	}
	cert, _, err := load(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !covers(cert, []string{"127.0.0.2"}) {
		t.Errorf("renewed certificate covers %v, want 127.0.0.2", cert.IPAddresses)
	}
	if ca, _ := os.ReadFile(f.CAFile); string(ca) != string(caPEM) {
		t.Error("CA changed when only the host changed: clients would have to trust a new CA")
	}
	// Near expiry both are renewed.
	if _, err := Ensure(dir, []string{"127.0.0.2"}, now.Add(caValidity)); err != nil {
		t.Fatal(err)
	}
	if ca, _ := os.ReadFile(f.CAFile); string(ca) == string(caPEM) {
		t.Error("expired CA kept")
	}
}

// TestServerCertificateAuthenticatesClients: engines present the node certificate as a client too (the
// cluster bus requires it), so a server that verifies client certificates must accept it.
func TestServerCertificateAuthenticatesClients(t *testing.T) {
	f, err := Ensure(t.TempDir(), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, pool := loadFiles(t, f)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- err
			return
		}
		defer c.Close()
		accepted <- c.(*tls.Conn).Handshake()
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}})
	if err == nil {
		err = c.Handshake()
		c.Close()
	}
	if serverErr := <-accepted; err != nil || serverErr != nil {
		t.Fatalf("mutual TLS with the node certificate: client %v, server %v", err, serverErr)
	}
}

// loadFiles loads the node key pair and a pool holding the CA.
func loadFiles(t *testing.T, f Files) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(f.CAFile)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	return pair, pool
}

// verifies reports whether the certificate in f is trusted for host by the CA in f.
func verifies(t *testing.T, f Files, host string) error {
	t.Helper()
	pair, pool := loadFiles(t, f)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool})
	return err
}

func TestIssueGivesANodeItsOwnCertificate(t *testing.T) {
	caDir, nodeDir := t.TempDir(), filepath.Join(t.TempDir(), "nodes", "shop-0001-001")
	now := time.Now()
	if _, err := Issue(caDir, nodeDir, []string{"127.1.0.7"}, now); err == nil {
		t.Fatal("a node certificate was issued without a CA")
	}
	shared, err := Ensure(caDir, []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Issue(caDir, nodeDir, []string{"127.1.0.7", "127.0.0.1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if f.CAFile != shared.CAFile || f.CertFile == shared.CertFile {
		t.Fatalf("node files %+v, shared %+v", f, shared)
	}
	for _, h := range []string{"127.1.0.7", "127.0.0.1", "localhost"} {
		if err := verifies(t, f, h); err != nil {
			t.Errorf("the node certificate for %s: %v", h, err)
		}
	}
	if verifies(t, f, "127.1.0.8") == nil {
		t.Error("the node certificate is good for another node's address")
	}
	if verifies(t, shared, "127.1.0.7") == nil {
		t.Error("the shared certificate covers the node's address: the test proves nothing")
	}
	// Unchanged hosts keep the certificate; another host renews it.
	before, _ := os.ReadFile(f.CertFile)
	if _, err := Issue(caDir, nodeDir, []string{"127.1.0.7", "127.0.0.1"}, now); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(f.CertFile); string(after) != string(before) {
		t.Error("a certificate that covers the hosts was issued again")
	}
	if _, err := Issue(caDir, nodeDir, []string{"127.1.0.7", "127.1.200.1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := verifies(t, f, "127.1.200.1"); err != nil {
		t.Errorf("after a new host: %v", err)
	}
	if err := Forget(nodeDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nodeDir); !os.IsNotExist(err) {
		t.Errorf("the node's certificate directory is still there: %v", err)
	}
}

// TestIssueRepairsAMismatchedPair: a certificate beside a key it was not made for (two issues interleaved)
// is issued again, where the engine would refuse to start.
func TestIssueRepairsAMismatchedPair(t *testing.T) {
	caDir, a, b := t.TempDir(), t.TempDir(), t.TempDir()
	now := time.Now()
	if _, err := Ensure(caDir, []string{"127.0.0.1"}, now); err != nil {
		t.Fatal(err)
	}
	fa, err := Issue(caDir, a, []string{"127.1.0.9"}, now)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := Issue(caDir, b, []string{"127.1.0.9"}, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(fb.KeyFile)
	if err := os.WriteFile(fa.KeyFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(fa.CertFile, fa.KeyFile); err == nil {
		t.Fatal("the swapped key still matches: the test proves nothing")
	}
	if _, err := Issue(caDir, a, []string{"127.1.0.9"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(fa.CertFile, fa.KeyFile); err != nil {
		t.Errorf("after Issue the pair does not match: %v", err)
	}
}
