package service

import (
	"testing"
)

// A window the caller gives is kept, and the default picked for the other one never meets it: ElastiCache
// refuses only windows that both come from the caller.
func TestCreateWindowsDefaultsAvoidTheCallersWindow(t *testing.T) {
	for _, rg := range []string{"us-east-1", "eu-west-1", "ap-northeast-1", "nowhere-1"} {
		for range 200 { // the defaults are random: try many
			maint, snap, err := createWindows(rg, nil, ptr("05:00-09:00"), false)
			if err != nil {
				t.Fatalf("%s: SnapshotWindow alone refused: %v", rg, err)
			}
			mw, _, _ := parseMaintenanceWindow(maint)
			if snap != "05:00-09:00" || windowsOverlap(mw, 5*60, 4*60) {
				t.Fatalf("%s: windows %s and %s, want the snapshot window kept and a maintenance window clear of it", rg, maint, snap)
			}
			maint, snap, err = createWindows(rg, ptr("Tue:03:00-tue:11:00"), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			start, length, _ := parseSnapshotWindow(snap)
			if mw, _, _ := parseMaintenanceWindow(maint); maint != "tue:03:00-tue:11:00" || windowsOverlap(mw, start, length) {
				t.Fatalf("%s: windows %s and %s, want the maintenance window kept (lower case) and a snapshot window clear of it", rg, maint, snap)
			}
		}
	}
	if _, _, err := createWindows("us-east-1", ptr("tue:06:00-tue:07:00"), ptr("05:00-09:00"), false); err == nil {
		t.Error("overlapping windows both given: accepted, want InvalidParameterCombination")
	}
	// A snapshot window of 23.5 hours leaves no room for a default maintenance window of one hour.
	if _, _, err := createWindows("us-east-1", nil, ptr("05:00-04:30"), false); err == nil {
		t.Error("a 23.5-hour snapshot window: accepted with an overlapping default maintenance window")
	}
	maint, snap, err := createWindows("us-east-1", nil, ptr("bogus"), true)
	if err != nil || maint == "" || snap == "" {
		t.Errorf("memcached: windows %q %q, err %v; want the default maintenance window and the snapshot window ignored", maint, snap, err)
	}
}
