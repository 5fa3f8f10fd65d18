package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// sample is one metric of a scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// startMetricsServer starts ecache with its metrics endpoint on a free port and returns its URL too.
func startMetricsServer(t *testing.T) (*ecacheProcess, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return startServer(t, "--metrics-listen", addr), "http://" + addr + "/metrics"
}

// scrape reads the metrics endpoint at url (the Prometheus text format).
func scrape(t *testing.T, url string) []sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		s := sample{labels: map[string]string{}, value: v}
		head := line[:sp]
		name, labels, _ := strings.Cut(head, "{")
		s.name = name
		for kv := range strings.SplitSeq(strings.TrimSuffix(labels, "}"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				s.labels[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, s)
	}
	return out
}

// metricOf returns the value of metric name for cluster's node, and whether the scrape has it.
func metricOf(samples []sample, name, cluster string) (float64, bool) {
	for _, s := range samples {
		if s.name == name && s.labels["CacheClusterId"] == cluster {
			return s.value, true
		}
	}
	return 0, false
}
