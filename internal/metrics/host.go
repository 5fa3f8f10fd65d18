package metrics

import (
	"bufio"
	"os"
	"strings"
	"sync"
)

// hostReader reads the host's own metrics from /proc: every node runs on this host, so each reports them,
// as each ElastiCache node reports its own host's.
type hostReader struct {
	mu        sync.Mutex
	busy, all float64 // CPU jiffies at the last read
}

// hostMetrics are the host's metrics at one scrape; ok is false where /proc could not be read.
type hostMetrics struct {
	cpu, freeable, swap float64
	cpuOK, memoryOK     bool
}

func (h hostMetrics) emit(out sink) {
	if h.cpuOK {
		out.gauge("CPUUtilization", h.cpu)
	}
	if h.memoryOK {
		out.gauge("FreeableMemory", h.freeable)
		out.gauge("SwapUsage", h.swap)
	}
}

func (r *hostReader) read() hostMetrics {
	var m hostMetrics
	if busy, all, ok := r.cpuJiffies(); ok {
		r.mu.Lock()
		if all > r.all {
			m.cpu, m.cpuOK = 100*(busy-r.busy)/(all-r.all), true
		}
		r.busy, r.all = busy, all
		r.mu.Unlock()
	}
	if mem, ok := r.memory(); ok {
		m.freeable, m.swap, m.memoryOK = mem["MemAvailable"]*1024, (mem["SwapTotal"]-mem["SwapFree"])*1024, true
	}
	return m
}

// cpuJiffies reads the time the host's CPUs were busy and the time they ran, since boot.
func (r *hostReader) cpuJiffies() (busy, all float64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range fields[1:] {
		j := number(v)
		all += j
		if i != 3 && i != 4 { // idle and iowait
			busy += j
		}
	}
	return busy, all, true
}

// memory reads /proc/meminfo in kB.
func (r *hostReader) memory() (map[string]float64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return nil, false
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = number(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	_, ok := out["MemAvailable"]
	return out, ok
}
