package server

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/api"
)

// serveWith runs h behind NewHTTPServer with timeouts t on a loopback port and gives its address.
func serveWith(t *testing.T, h http.Handler, timeouts Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h, timeouts)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func describeHandler() *Handler {
	return &Handler{
		Service: api.Func(func(ctx context.Context, op string, in any) (any, error) { return api.Unimplemented{}, nil }),
		Auth:    allowAll{region: "us-east-1"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// A client that sends the headers and then part of the body is cut off once the request's read time is up,
// instead of holding the connection for as long as it likes.
func TestSlowBodyIsCutOff(t *testing.T) {
	addr := serveWith(t, describeHandler(), Timeouts{ReadHeader: time.Second, Read: 200 * time.Millisecond, Write: time.Second, Idle: time.Second})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "Action=DescribeCacheClusters&Version=2015-02-02"
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: 1000\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	// The server must end the exchange on its own; the deadline only keeps a broken server from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with a stalled body open")
	}
}

// A body over MaxBodyBytes is answered 413 RequestEntityTooLarge, whether its length is announced or not.
func TestBodyOverTheLimit(t *testing.T) {
	addr := serveWith(t, describeHandler(), DefaultTimeouts)
	big := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(big)
		if chunked {
			r = io.MultiReader(bytes.NewReader(big)) // no Len: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", r)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		doc, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(doc, &e)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || e.Code != "RequestEntityTooLarge" || !strings.Contains(e.Message, "4194304") {
			t.Errorf("chunked=%v: HTTP %d %s %q, want 413 RequestEntityTooLarge naming the limit", chunked, resp.StatusCode, e.Code, e.Message)
		}
	}
}
