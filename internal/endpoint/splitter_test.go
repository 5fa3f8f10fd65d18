package endpoint

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoWithName answers every connection with its name, then echoes what it reads.
func echoWithName(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(name + "\n"))
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSplitterRoutesByFirstByte: a connection that opens with a TLS handshake record reaches the TLS
// listener, any other the plain one, each with its first byte intact.
func TestSplitterRoutesByFirstByte(t *testing.T) {
	s, err := ListenSplit("127.0.0.1:0", echoWithName(t, "plain"), echoWithName(t, "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		send []byte
		want string
	}{
		{[]byte("*1\r\n$4\r\nPING\r\n"), "plain"},
		{[]byte{0x16, 0x03, 0x01, 0x00}, "tls"},
	} {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(tt.send); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		name, _ := r.ReadString('\n')
		echo := make([]byte, len(tt.send))
		_, err = io.ReadFull(r, echo)
		c.Close()
		if name != tt.want+"\n" || err != nil || string(echo) != string(tt.send) {
			t.Errorf("sent %q: reached %q, echo %q (%v); want %s with the bytes intact", tt.send, name, echo, err, tt.want)
		}
	}
}
