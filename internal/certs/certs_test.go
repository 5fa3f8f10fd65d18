package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
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
