// Package certs keeps the certificate authority and server certificate that ecache's TLS nodes serve:
// created once in the data dir, renewed when they near expiry or no longer cover the node host.
// Clients trust ca.pem; ClientConfig and ServerConfig are the TLS configurations built from these files.
// Imported by cmd/ecache, internal/controller and internal/driver/process.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ecache/ecache/internal/atomicfile"
)

// Files are the PEM files of the CA and of the server certificate it signed.
type Files struct {
	CAFile, CertFile, KeyFile string
}

const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 825 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// Ensure returns the certificate files under dir, creating or renewing them so that the server
// certificate covers every host (IP addresses or names).
func Ensure(dir string, hosts []string, now time.Time) (Files, error) {
	f := Files{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem")}
	caKeyFile := filepath.Join(dir, "ca-key.pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	ca, caKey, err := load(f.CAFile, caKeyFile)
	if err != nil || now.Add(renewBefore).After(ca.NotAfter) {
		if ca, caKey, err = newCA(now); err != nil {
			return f, err
		}
		if err := save(f.CAFile, caKeyFile, ca, caKey); err != nil {
			return f, err
		}
		_ = os.Remove(f.CertFile) // signed by the old CA
	}
	return f, ensureServer(ca, caKey, f.CertFile, f.KeyFile, hosts, now)
}

// Issue returns a server certificate of its own for one node, under dir, signed by the CA that Ensure keeps
// in caDir: created, or renewed when it nears expiry, no longer covers every host, was signed by another CA
// or does not match its key. Calls for one dir must not overlap (the key and the certificate are two files). A node at an address of its own presents it, so that clients check the address they dialled.
func Issue(caDir, dir string, hosts []string, now time.Time) (Files, error) {
	f := Files{CAFile: filepath.Join(caDir, "ca.pem"), CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem")}
	ca, caKey, err := load(f.CAFile, filepath.Join(caDir, "ca-key.pem"))
	if err != nil {
		return f, fmt.Errorf("certs: the CA in %s: %w", caDir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	return f, ensureServer(ca, caKey, f.CertFile, f.KeyFile, hosts, now)
}

// ensureServer creates or renews the server certificate in certFile and keyFile (see Issue).
func ensureServer(ca *x509.Certificate, caKey *ecdsa.PrivateKey, certFile, keyFile string, hosts []string, now time.Time) error {
	srv, key, err := load(certFile, keyFile)
	if err == nil && !now.Add(renewBefore).After(srv.NotAfter) && covers(srv, hosts) && srv.CheckSignatureFrom(ca) == nil &&
		slices.Contains(srv.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && key.PublicKey.Equal(srv.PublicKey) {
		return nil
	}
	cert, key, err := newServer(ca, caKey, hosts, now)
	if err != nil {
		return err
	}
	return save(certFile, keyFile, cert, key)
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.Contains(c.DNSNames, h) {
			return false
		}
	}
	return true
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

func newCA(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "ecache local CA", Organization: []string{"ecache"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(caValidity),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newServer(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: "ecache cache nodes", Organization: []string{"ecache"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(serverValidity),
		// Engines also present it as a client: the cluster bus of Valkey and Redis OSS always asks the
		// connecting node for a certificate and checks it is good for client authentication.
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func load(certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, nil, errors.New("certs: not PEM")
	}
	cert, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func save(certFile, keyFile string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// Forget removes a node certificate directory that Issue filled.
func Forget(dir string) error { return os.RemoveAll(dir) }
