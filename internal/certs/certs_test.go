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
	pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(f.CAFile)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
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
