package endpoint

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// deadAddr returns an address on 127.0.0.1 where nothing listens.
func deadAddr(t testing.TB) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
}

// startEngine runs binary with args(port) on a free port, waits until ready
// reports success and stops the process in t.Cleanup. It retries on another
// port if the process exits early (for example when the port was taken).
func startEngine(t testing.TB, binary string, args func(port int) []string, ready func(addr string) error) string {
	t.Helper()
	path, err := exec.LookPath(binary)
	if err != nil {
		t.Skipf("%s not installed", binary)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(path, args(port)...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		// Kill the engine if the test binary dies without running cleanups.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", binary, err)
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case <-exited:
				lastErr = fmt.Errorf("%s exited before becoming ready on %s", binary, addr)
			default:
				lastErr = ready(addr)
			}
			if lastErr == nil {
				t.Cleanup(stop)
				return addr
			}
			if isExited(exited) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop()
	}
	t.Fatalf("start %s: %v", binary, lastErr)
	return ""
}

func isExited(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// startRedis starts a throwaway redis-server and returns its address.
func startRedis(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	return startEngine(t, "redis-server", func(port int) []string {
		return []string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--daemonize", "no", "--protected-mode", "no",
		}
	}, func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := redisDo(c, "PING")
		if err != nil {
			return err
		}
		if got != "PONG" {
			return fmt.Errorf("PING replied %q", got)
		}
		return nil
	})
}

// startMemcached starts a throwaway memcached and returns its address.
func startMemcached(t testing.TB) string {
	t.Helper()
	return startEngine(t, "memcached", func(port int) []string {
		args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "16", "-t", "1"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		return args
	}, func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := io.WriteString(c, "version\r\n"); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "VERSION ") {
			return fmt.Errorf("version replied %q", line)
		}
		return nil
	})
}

// redisDo sends one command on c and returns the reply flattened to a string
// (arrays are joined with spaces). Errors replies come back as errors.
func redisDo(c net.Conn, args ...string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	// One byte at a time so that nothing past this reply is consumed.
	return readRESP(bufio.NewReaderSize(oneByteReader{c}, 16))
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

func readRESP(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty RESP line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, n)
		for range n {
			p, err := readRESP(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, " "), nil
	}
	return "", fmt.Errorf("unexpected RESP line %q", line)
}

// redisPort asks the server behind c for its port with CONFIG GET port.
func redisPort(t testing.TB, c net.Conn) string {
	t.Helper()
	got, err := redisDo(c, "CONFIG", "GET", "port")
	if err != nil {
		t.Fatalf("CONFIG GET port: %v", err)
	}
	_, port, ok := strings.Cut(got, " ")
	if !ok {
		t.Fatalf("CONFIG GET port replied %q", got)
	}
	return port
}

func portOf(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("split %q: %v", addr, err)
	}
	return port
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosed asserts that the peer closes c within a few seconds.
func expectClosed(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err == nil {
		t.Fatalf("connection still open: read %q", buf[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed within 5s")
	}
}
