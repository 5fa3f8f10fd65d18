// Package resptest has what tests of engine clients need: fake servers on loopback (Serve), an address that
// refuses connections and one that accepts them and never answers. Imported by tests only.
package resptest

import (
	"net"
	"sync"
	"testing"
)

// DeadAddr returns a loopback address nothing listens on.
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Serve listens on a loopback port until the test ends and runs handle on each connection it accepts, in a
// goroutine of its own; connections still open when the test ends are closed. It returns the address.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// HungAddr returns the address of a listener that accepts connections and never answers.
func HungAddr(t testing.TB) string { return Serve(t, func(net.Conn) {}) }
