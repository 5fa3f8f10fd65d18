package awsquery

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"time"
)

// TimeLayout is how timestamps are written in responses (ISO 8601, UTC, milliseconds).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Marshaler writes the members of a shape as XML elements.
type Marshaler interface {
	MarshalQueryXML(w *XMLWriter)
}

// XMLWriter builds an XML document without reflection.
type XMLWriter struct {
	buf bytes.Buffer
}

// Bytes returns the document written so far.
func (w *XMLWriter) Bytes() []byte { return w.buf.Bytes() }

// Start opens element name.
func (w *XMLWriter) Start(name string) {
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
}

// StartNS opens element name with an xmlns attribute.
func (w *XMLWriter) StartNS(name, ns string) {
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	w.buf.WriteString(` xmlns="`)
	w.text(ns)
	w.buf.WriteString(`">`)
}

// End closes element name.
func (w *XMLWriter) End(name string) {
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
}

// text writes s escaped; the common case, printable ASCII with nothing to escape, is copied as it is.
func (w *XMLWriter) text(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' || c == '\'' || c == '"' {
			_ = xml.EscapeText(&w.buf, []byte(s))
			return
		}
	}
	w.buf.WriteString(s)
}

// Rendered is the XML of a shape's members, written once and kept, for a shape that is read far more
// often than it changes: a generated shape that embeds it writes the kept bytes instead of its members
// once they are set. The zero value holds nothing.
type Rendered struct{ xml []byte }

// Render writes m's members and keeps them.
func Render(m Marshaler) Rendered {
	var w XMLWriter
	m.MarshalQueryXML(&w)
	return Rendered{xml: bytes.Clone(w.Bytes())}
}

// WriteRendered writes the XML r keeps and reports whether it kept any.
func (w *XMLWriter) WriteRendered(r Rendered) bool {
	if r.xml == nil {
		return false
	}
	w.buf.Write(r.xml)
	return true
}

// String writes <name>s</name>.
func (w *XMLWriter) String(name, s string) {
	w.Start(name)
	w.text(s)
	w.End(name)
}

// Int32 writes <name>n</name>.
func (w *XMLWriter) Int32(name string, n int32) {
	w.Start(name)
	w.buf.WriteString(strconv.FormatInt(int64(n), 10))
	w.End(name)
}

// Float64 writes <name>f</name>.
func (w *XMLWriter) Float64(name string, f float64) {
	w.Start(name)
	w.buf.WriteString(strconv.FormatFloat(f, 'f', -1, 64))
	w.End(name)
}

// Bool writes <name>true|false</name>.
func (w *XMLWriter) Bool(name string, b bool) {
	w.Start(name)
	w.buf.WriteString(strconv.FormatBool(b))
	w.End(name)
}

// Time writes <name>2006-01-02T15:04:05.000Z</name>.
func (w *XMLWriter) Time(name string, t time.Time) {
	w.Start(name)
	w.buf.WriteString(t.UTC().Format(TimeLayout))
	w.End(name)
}
