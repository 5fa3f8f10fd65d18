package awsquery

import (
	"bytes"
	"encoding/xml"
	"testing"
)

// FuzzXMLText checks that text written without escaping when it needs none is written exactly as
// encoding/xml escapes it, and parses back to the same string where XML can carry it.
func FuzzXMLText(f *testing.F) {
	for _, seed := range []string{"", "cache.t3.micro", `a<b>&'"`, "tab\there\nline\r", "é ünïcode", "\x00\xff", "plain ascii 0123 ~"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w XMLWriter
		w.String("V", s)
		var want bytes.Buffer
		want.WriteString("<V>")
		_ = xml.EscapeText(&want, []byte(s))
		want.WriteString("</V>")
		if !bytes.Equal(w.Bytes(), want.Bytes()) {
			t.Fatalf("String(%q) wrote %q, want %q", s, w.Bytes(), want.Bytes())
		}
	})
}

// TestRenderedReplacesMembers checks that kept XML is written as it was rendered, and that a document's
// buffer is clean when it serves the next response.
func TestRenderedReplacesMembers(t *testing.T) {
	r := Render(marshalFunc(func(w *XMLWriter) { w.String("Name", "a&b") }))
	var w XMLWriter
	if (&w).WriteRendered(Rendered{}) || !w.WriteRendered(r) || string(w.Bytes()) != "<Name>a&amp;b</Name>" {
		t.Fatalf("written: %q", w.Bytes())
	}
	d := ResponseDocument("ns", "Act", "ActResult", marshalFunc(func(w *XMLWriter) { w.WriteRendered(r) }), "req-1")
	first := string(d.Bytes())
	d.Release()
	d = ResponseDocument("ns", "Act", "", nil, "req-2")
	defer d.Release()
	if want := `<ActResponse xmlns="ns"><ActResult><Name>a&amp;b</Name></ActResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></ActResponse>`; first != want {
		t.Errorf("first document %s, want %s", first, want)
	}
	if want := `<ActResponse xmlns="ns"><ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></ActResponse>`; string(d.Bytes()) != want {
		t.Errorf("second document %s, want %s", d.Bytes(), want)
	}
}

type marshalFunc func(w *XMLWriter)

func (f marshalFunc) MarshalQueryXML(w *XMLWriter) { f(w) }
