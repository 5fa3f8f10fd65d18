package durable

import (
	"testing"
	"time"
)

// TestDurabilityBufferAge: a write answered is pending from then on; a sample ties the writes answered
// before it to the primary's offset, and they leave once the log reports that offset; the buffer's age is
// its oldest write's, 0 when empty.
func TestDurabilityBufferAge(t *testing.T) {
	var d durabilityBuffer
	t0 := time.Unix(1000, 0)
	if d.age(t0) != 0 {
		t.Fatal("an empty buffer has an age")
	}
	d.wrote(t0)
	d.wrote(t0.Add(time.Second)) // later writes before the sample do not make it younger
	if got := d.age(t0.Add(2 * time.Second)); got != 2*time.Second {
		t.Errorf("age before any sample = %v, want 2s", got)
	}
	d.sample(d.takeUnsampled(), 100, 40)
	d.wrote(t0.Add(3 * time.Second))
	if got := d.age(t0.Add(4 * time.Second)); got != 4*time.Second {
		t.Errorf("age with a sample the log lacks = %v, want 4s", got)
	}
	d.sample(d.takeUnsampled(), 150, 100) // the log has the first sample's writes
	if got := d.age(t0.Add(5 * time.Second)); got != 2*time.Second {
		t.Errorf("age once the first sample is logged = %v, want 2s (the write at 3s)", got)
	}
	d.sample(d.takeUnsampled(), 150, 150)
	if got := d.age(t0.Add(6 * time.Second)); got != 0 {
		t.Errorf("age once everything is logged = %v, want 0", got)
	}
	// The shipper gone, the primary reports no log offset: writes stay pending however far it goes.
	d.wrote(t0.Add(7 * time.Second))
	d.sample(d.takeUnsampled(), 400, 0)
	d.sample(d.takeUnsampled(), 500, 0)
	if got := d.age(t0.Add(20 * time.Second)); got != 13*time.Second {
		t.Errorf("age without a shipper = %v, want 13s", got)
	}
	// A failed sample gives its writes back to the next one.
	d.clear()
	d.wrote(t0)
	at := d.takeUnsampled()
	d.putBack(at)
	if got := d.age(t0.Add(time.Second)); got != time.Second {
		t.Errorf("age after a failed sample = %v, want 1s", got)
	}
}
