package regions

import "testing"

func TestSet(t *testing.T) {
	s := New("local-lab-1")
	for _, r := range []string{"us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "local-lab-1"} {
		if !s.Has(r) {
			t.Errorf("%s not served", r)
		}
	}
	for _, r := range []string{"", "x", "us-east-7", "ü-region", "US-EAST-1", "local-lab-2"} {
		if s.Has(r) {
			t.Errorf("%q served", r)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{"local-1": true, "a": true, "": false, "1abc": false, "abc-": false,
		"Abc": false, "ü-region": false, "a_b": false, string(make([]byte, 65)): false} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, !want, want)
		}
	}
}
