package memcache

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/resp/resptest"
)

// fakeNode answers each request line with reply(line) and returns its address.
func fakeNode(t *testing.T, reply func(line string) string) string {
	t.Helper()
	return resptest.Serve(t, func(c net.Conn) {
		defer c.Close()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			c.Write([]byte(reply(strings.TrimRight(line, "\r\n"))))
		}
	})
}

func TestVersionAndSet(t *testing.T) {
	ctx := t.Context()
	good := fakeNode(t, func(line string) string {
		if line == "version" {
			return "VERSION 1.6.18\r\n"
		}
		return "STORED\r\n"
	})
	if v, err := Version(ctx, good, nil); err != nil || v != "VERSION 1.6.18" {
		t.Errorf("Version = %q, %v", v, err)
	}
	if err := Set(ctx, good, nil, "AmazonElastiCache:cluster", []byte("1\n")); err != nil {
		t.Errorf("Set: %v", err)
	}
	bad := fakeNode(t, func(string) string { return "SERVER_ERROR out of memory\r\n" })
	if _, err := Version(ctx, bad, nil); err == nil {
		t.Error("Version with an error reply: no error")
	}
	if err := Set(ctx, bad, nil, "k", []byte("v")); err == nil || !strings.Contains(err.Error(), "SERVER_ERROR") {
		t.Errorf("Set with an error reply: %v, want the reply in the error", err)
	}
}

// TestContextEndsTheExchange: a node that never answers holds the caller only until its context ends.
func TestContextEndsTheExchange(t *testing.T) {
	silent := resptest.HungAddr(t)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := Version(ctx, silent, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Version from a silent node: %v, want context.DeadlineExceeded", err)
	}
}
