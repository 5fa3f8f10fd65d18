package sdkhttp

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// closingBody is what smithy-go sends: a body with WriteTo that answers io.EOF once closed.
type closingBody struct {
	*bytes.Reader
	closed bool
}

func (b *closingBody) WriteTo(w io.Writer) (int64, error) {
	if b.closed {
		return 0, io.EOF
	}
	return b.Reader.WriteTo(w)
}

func (b *closingBody) Close() error { b.closed = true; return nil }

type recordingDoer struct{ body io.ReadCloser }

func (d *recordingDoer) Do(r *http.Request) (*http.Response, error) {
	d.body = r.Body
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestBodiesOfferOnlyReadAndClose(t *testing.T) {
	next := &recordingDoer{}
	sent := &closingBody{Reader: bytes.NewReader([]byte("Action=DescribeCacheClusters&Version=2015-02-02"))}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", sent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Wrap(next).Do(req); err != nil {
		t.Fatal(err)
	}
	if _, ok := next.body.(io.WriterTo); ok {
		t.Fatalf("the body net/http is given offers WriteTo (%T)", next.body)
	}
	// What net/http does after Content-Length bytes, once the SDK has closed the body: the end, not an error.
	got, err := io.ReadAll(next.body)
	if err != nil || !strings.HasPrefix(string(got), "Action=DescribeCacheClusters") {
		t.Fatalf("read through the wrapper: %q, %v", got, err)
	}
	if err := next.body.Close(); err != nil || !sent.closed {
		t.Fatalf("close through the wrapper: %v, closed %v", err, sent.closed)
	}
	if n, err := io.Copy(io.Discard, next.body); n != 0 || err != nil {
		t.Fatalf("a read after close: %d bytes, %v; want 0 and no error", n, err)
	}
}

func TestNoBodyIsLeftAlone(t *testing.T) {
	next := &recordingDoer{}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	if _, err := Wrap(next).Do(req); err != nil {
		t.Fatal(err)
	}
	if next.body != nil && next.body != http.NoBody {
		t.Fatalf("a request without a body was given one: %T", next.body)
	}
}
