package controller

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfigs loads the server side (what ecache's endpoints present to clients) and the client side
// (how ecache reaches TLS nodes) of in-transit encryption, once.
func (c *Controller) tlsConfigs() (server, client *tls.Config, err error) {
	c.tlsOnce.Do(func() {
		files := c.cfg.TLS
		if files == nil {
			c.tlsErr = errors.New("in-transit encryption is not configured")
			return
		}
		pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
		if err != nil {
			c.tlsErr = err
			return
		}
		ca, err := os.ReadFile(files.CAFile)
		if err != nil {
			c.tlsErr = err
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			c.tlsErr = fmt.Errorf("no certificate in %s", files.CAFile)
			return
		}
		c.tlsServer = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		c.tlsClient = &tls.Config{RootCAs: pool, ServerName: c.cfg.NodeHost, MinVersion: tls.VersionTLS12}
	})
	return c.tlsServer, c.tlsClient, c.tlsErr
}
