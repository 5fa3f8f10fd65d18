package controller

import (
	"crypto/tls"
	"errors"

	"github.com/ecache/ecache/internal/certs"
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
		if c.tlsServer, c.tlsErr = certs.ServerConfig(files.CertFile, files.KeyFile); c.tlsErr != nil {
			return
		}
		c.tlsClient, c.tlsErr = certs.ClientConfig(files.CAFile, c.cfg.NodeHost)
	})
	return c.tlsServer, c.tlsClient, c.tlsErr
}
