package endpoint

import (
	"io"
	"net"
	"testing"
)

// BenchmarkForwarderPingPong measures one PING/PONG round trip against a real
// redis-server, directly and through a Forwarder, to show the forwarder's
// per-request overhead.
func BenchmarkForwarderPingPong(b *testing.B) {
	redis := startRedis(b) // skips when redis-server is not installed
	f := newForwarder(b, redis)

	targets := []struct {
		name string
		addr string
	}{
		{"direct", redis},
		{"forwarder", f.Addr().String()},
	}
	ping := []byte("*1\r\n$4\r\nPING\r\n")
	const pong = "+PONG\r\n"
	for _, tt := range targets {
		b.Run(tt.name, func(b *testing.B) {
			c, err := net.Dial("tcp", tt.addr)
			if err != nil {
				b.Fatalf("dial: %v", err)
			}
			defer c.Close()
			buf := make([]byte, len(pong))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(ping); err != nil {
					b.Fatalf("write: %v", err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatalf("read: %v", err)
				}
				if string(buf) != pong {
					b.Fatalf("reply %q, want %q", buf, pong)
				}
			}
		})
	}
}
