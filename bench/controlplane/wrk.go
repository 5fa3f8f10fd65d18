package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	throughput float64
	p50, p99   time.Duration
}

// wrkLoad replays one signed request with wrk (conc connections, two threads, for d), the load generator
// the control-plane figures are quoted with; ok is false when wrk is not installed.
func wrkLoad(addr string, header http.Header, body []byte, conc int, d time.Duration) (wrkResult, bool, error) {
	if _, err := exec.LookPath("wrk"); err != nil {
		return wrkResult{}, false, nil
	}
	var script strings.Builder
	fmt.Fprintf(&script, "wrk.method = \"POST\"\nwrk.body = %q\n", body)
	for k, vs := range header {
		fmt.Fprintf(&script, "wrk.headers[%q] = %q\n", k, strings.Join(vs, ","))
	}
	f, err := os.CreateTemp("", "describe-*.lua")
	if err != nil {
		return wrkResult{}, true, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script.String()); err != nil {
		return wrkResult{}, true, err
	}
	f.Close()
	out, err := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", conc), "-d"+d.String(), "--timeout", "10s", "--latency",
		"-s", f.Name(), "http://"+addr+"/").CombinedOutput()
	if err != nil {
		return wrkResult{}, true, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(out)
}

// parseWrk reads the throughput and the 50th and 99th latency percentiles from wrk --latency output; any
// non-2xx answer or socket error fails the run.
func parseWrk(out []byte) (wrkResult, bool, error) {
	var r wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.throughput, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			r.p50 = wrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.p99 = wrkDuration(f[1])
		case len(f) > 0 && (f[0] == "Non-2xx" || f[0] == "Socket"):
			return r, true, fmt.Errorf("wrk: %s", sc.Text())
		}
	}
	if r.throughput == 0 || r.p99 == 0 {
		return r, true, fmt.Errorf("wrk output not understood: %s", out)
	}
	return r, true, nil
}

// wrkDuration parses wrk's latency figures (12.34us, 5.6ms, 1.2s, 1.5m).
func wrkDuration(s string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return time.Duration(f * float64(u.unit))
			}
		}
	}
	return 0
}

// compareWrk replays each server's signed request with wrk for d and prints the two side by side.
func compareWrk(eAddr string, eh http.Header, eb []byte, mAddr string, mh http.Header, mb []byte, conc int, d time.Duration) error {
	e, ok, err := wrkLoad(eAddr, eh, eb, conc, d)
	if !ok {
		fmt.Println("wrk is not installed (apt-get install wrk): no wrk replay")
		return nil
	}
	if err != nil {
		return fmt.Errorf("ecache: %w", err)
	}
	m, _, err := wrkLoad(mAddr, mh, mb, conc, d)
	if err != nil {
		return fmt.Errorf("moto_server: %w", err)
	}
	fmt.Printf("Same signed request replayed by wrk, %d connections, %v each:\n", conc, d)
	fmt.Printf("  ecache:      %8.0f req/s  p50 %v  p99 %v\n", e.throughput, e.p50.Round(10*time.Microsecond), e.p99.Round(10*time.Microsecond))
	fmt.Printf("  moto_server: %8.0f req/s  p50 %v  p99 %v\n", m.throughput, m.p50.Round(10*time.Microsecond), m.p99.Round(10*time.Microsecond))
	fmt.Printf("  ratio ecache/moto: throughput %.1fx, p99 latency %.2fx\n", e.throughput/m.throughput, float64(e.p99)/float64(m.p99))
	return nil
}
