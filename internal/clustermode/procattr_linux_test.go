package clustermode

import "syscall"

// procAttr puts an engine in its own process group and has the kernel kill it if the test binary dies, so
// that no engine outlives an interrupted test run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
