package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// procStat is what /proc/<pid>/stat says about a process.
type procStat struct {
	state     byte   // field 3: R, S, D, Z, ...
	startTime uint64 // field 22: start time in clock ticks after boot
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is parenthesised and may itself contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "" {
		return procStat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time: %w", pid, err)
	}
	return procStat{state: f[0][0], startTime: st}, nil
}

// alive reports whether pid is a running (not zombie) process that started at startTime,
// so that a reused pid is never mistaken for the process that was recorded.
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	if err != nil {
		return false
	}
	switch st.state {
	case 'Z', 'X', 'x':
		return false
	}
	return st.startTime == startTime
}

// sameBinary reports whether pid runs binary, by /proc/<pid>/exe or, failing that, argv[0].
func sameBinary(pid int, binary string) bool {
	want := binary
	if r, err := filepath.EvalSymlinks(binary); err == nil {
		want = r
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil {
		exe = strings.TrimSuffix(exe, " (deleted)")
		if exe == want || exe == binary {
			return true
		}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(b), "\x00")
	// redis and valkey rewrite their title to "<argv0> <addr>", so accept that form too.
	return argv0 == binary || strings.HasPrefix(argv0, binary+" ")
}

// proc is one engine process, started by this driver or adopted from an earlier one.
type proc struct {
	pid       int
	startTime uint64
	startedAt time.Time
	child     *os.Process   // non-nil when this driver started the process (and reaps it)
	done      chan struct{} // closed once the process has ended

	mu     sync.Mutex
	notify bool // an exit is reported on Exits (false while starting and once a stop was requested)
	exited bool
	how    string // how a child ended ("exit status 1", "signal: killed"); empty when unknown
	pidfd  int    // adopted processes: pidfd used to watch and signal; -1 when none
}

func (p *proc) setExitStatus(how string) {
	p.mu.Lock()
	p.how = how
	p.mu.Unlock()
}

func (p *proc) exitStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.how
}

func newProc(pid int, startTime uint64, startedAt time.Time) *proc {
	return &proc{pid: pid, startTime: startTime, startedAt: startedAt, done: make(chan struct{}), pidfd: -1}
}

// markExited records the end of the process and reports whether it should be announced on Exits.
func (p *proc) markExited() (notify bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	p.exited = true
	p.closeFDLocked()
	close(p.done)
	return p.notify
}

func (p *proc) closeFDLocked() {
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
		p.pidfd = -1
	}
}

func (p *proc) closeFD() {
	p.mu.Lock()
	p.closeFDLocked()
	p.mu.Unlock()
}

// setNotify turns exit reporting on or off; it returns false when the process has already ended.
func (p *proc) setNotify(on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return false
	}
	p.notify = on
	return true
}

func (p *proc) hasExited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process unless it is known to have ended.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return nil
	}
	var err error
	switch {
	case p.child != nil:
		err = p.child.Signal(sig)
	case p.pidfd >= 0:
		err = unix.PidfdSendSignal(p.pidfd, sig, nil, 0)
	case alive(p.pid, p.startTime):
		err = syscall.Kill(p.pid, sig)
	}
	if errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// killGroup SIGKILLs the process group the engine leads (it runs in its own session), which also takes down
// any child it forked. The leader has not been reaped yet, so the group id still belongs to it.
func (p *proc) killGroup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return
	}
	if p.child == nil && p.pidfd < 0 && !alive(p.pid, p.startTime) {
		return
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
}

// waitGone waits up to timeout for the process to end; /proc is checked as well so that waiting
// also works once the watcher has stopped.
func (p *proc) waitGone(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return true
		case <-tick.C:
			if !alive(p.pid, p.startTime) {
				return true
			}
		case <-t.C:
			return false
		}
	}
}

// watchAdopted waits for an adopted process (one that is not this process's child) to end:
// by polling its pidfd, or /proc every pollInterval when pidfds are unavailable.
// It returns true when the process ended, false when stop was closed first.
func (p *proc) watchAdopted(stop <-chan struct{}, pollInterval time.Duration) bool {
	p.mu.Lock()
	fd := p.pidfd
	p.mu.Unlock()
	if fd >= 0 {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(pollInterval/time.Millisecond))
			if n > 0 {
				return true
			}
			if err != nil && !errors.Is(err, syscall.EINTR) {
				break // fall back to /proc
			}
			select {
			case <-stop:
				return false
			default:
			}
		}
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if !alive(p.pid, p.startTime) {
			return true
		}
		select {
		case <-stop:
			return false
		case <-tick.C:
		}
	}
}
