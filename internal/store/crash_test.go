package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecache/ecache/internal/store"
)

// crashDirEnv switches TestHelperWriter on; it names the database directory.
const crashDirEnv = "ECACHE_STORE_CRASH_DIR"

// Crash-test layout: transaction n (1, 2, ...) creates item/<n> with
// crashPayload(n), sets counter/last to n, creates window/<n> and deletes
// window/<n-crashWindow>, so that after n commits the store revision is n
// and the window kind holds exactly the last crashWindow numbers.
const crashWindow = 5

func itemKey(n int) string { return fmt.Sprintf("%08d", n) }

// crashPayload is a deterministic value between 64 bytes and about 8 KiB,
// so records regularly span and split bbolt pages.
func crashPayload(n int) []byte {
	size := 64 + (n*397)%8000
	unit := []byte("item-" + strconv.Itoa(n) + "|")
	return bytes.Repeat(unit, size/len(unit)+1)[:size]
}

// TestHelperWriter is the child process of TestBoltCrashSafety. It commits
// numbered transactions forever and prints "ack <n> <revision>" after each
// Update returns. It does nothing unless crashDirEnv is set.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestBoltCrashSafety")
	}
	s, err := store.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	next := 1
	if last, err := s.Get(ctx, "counter", "last"); err == nil {
		n, err := strconv.Atoi(string(last.Value))
		if err != nil {
			fmt.Fprintln(os.Stderr, "counter:", err)
			os.Exit(2)
		}
		next = n + 1
	}
	// Bound the run in case the parent disappears without killing us.
	deadline := time.Now().Add(2 * time.Minute)
	for n := next; time.Now().Before(deadline); n++ {
		var rev int64
		err := s.Update(ctx, func(tx store.Tx) error {
			obj, err := tx.Create("item", itemKey(n), crashPayload(n))
			if err != nil {
				return err
			}
			rev = obj.Revision
			if _, err := tx.Put("counter", "last", []byte(strconv.Itoa(n)), store.AnyRevision); err != nil {
				return err
			}
			if _, err := tx.Create("window", itemKey(n), []byte(strconv.Itoa(n))); err != nil {
				return err
			}
			if n > crashWindow {
				return tx.Delete("window", itemKey(n-crashWindow), store.AnyRevision)
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "update:", err)
			os.Exit(2)
		}
		// One write per line: a pipe write this small is atomic.
		if _, err := fmt.Fprintf(os.Stdout, "ack %d %d\n", n, rev); err != nil {
			os.Exit(2)
		}
	}
	os.Exit(3)
}

// TestBoltCrashSafety runs TestHelperWriter in a child process, kills it
// with SIGKILL in the middle of its commit stream, and checks that every
// acknowledged commit survived and that the database is consistent. The
// rounds share one database, so recovery after a kill is exercised too.
func TestBoltCrashSafety(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skipf("needs processes and SIGKILL; not available on %s", runtime.GOOS)
	}
	dir := t.TempDir()
	const rounds = 4
	committed := 0 // number of transactions known to be in the store
	for round := range rounds {
		t.Run(fmt.Sprintf("Round%d", round+1), func(t *testing.T) {
			killAfter := 150 + rand.IntN(250)
			lastAck, lastRev := runCrashChild(t, dir, committed, killAfter)
			committed = verifyCrashStore(t, dir, lastAck, lastRev)
		})
		if t.Failed() {
			return
		}
	}
}

// runCrashChild starts the writer, reads killAfter acknowledgements, kills
// the writer and returns the last acknowledged number and revision. Acks
// must continue without gaps from first+1.
func runCrashChild(t *testing.T, dir string, first, killAfter int) (lastAck int, lastRev int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start writer: %v", err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	lastAck = first
	acks := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ack ") {
			continue // test framework output
		}
		var n int
		var rev int64
		if _, err := fmt.Sscanf(line, "ack %d %d", &n, &rev); err != nil {
			t.Fatalf("bad ack line %q: %v", line, err)
		}
		if n != lastAck+1 {
			t.Fatalf("ack: got %d after %d, want %d", n, lastAck, lastAck+1)
		}
		if rev != int64(n) {
			t.Fatalf("ack %d: got revision %d, want %d", n, rev, n)
		}
		lastAck, lastRev = n, rev
		acks++
		if acks == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatalf("kill writer: %v", err)
			}
			killed = true
			// Keep reading: acks already written to the pipe count too.
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read acks: %v", err)
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("writer exited after %d acks, before it was killed: %v\nstderr:\n%s", acks, werr, stderr.String())
	}
	var exitErr *exec.ExitError
	if !errors.As(werr, &exitErr) || exitErr.Success() {
		t.Fatalf("writer exit: got %v, want killed by signal", werr)
	}
	t.Logf("killed writer after ack %d of this round; read %d acks in all, last %d", killAfter, acks, lastAck)
	return lastAck, lastRev
}

// verifyCrashStore reopens the database and returns the number of
// committed transactions found.
func verifyCrashStore(t *testing.T, dir string, lastAck int, lastRev int64) int {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()

	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check after kill: %v", err)
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	if rev < lastRev {
		t.Errorf("Revision: got %d, want at least the last acknowledged %d", rev, lastRev)
	}
	last, err := s.Get(ctx, "counter", "last")
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	n, err := strconv.Atoi(string(last.Value))
	if err != nil {
		t.Fatalf("counter value %q: %v", last.Value, err)
	}
	// The writer may have committed one transaction it never acknowledged.
	if n < lastAck || n > lastAck+1 {
		t.Errorf("counter: got %d, want %d or %d", n, lastAck, lastAck+1)
	}
	if int64(n) != rev || last.Revision != rev {
		t.Errorf("counter %d at revision %d, store revision %d: want all equal", n, last.Revision, rev)
	}

	items, err := s.List(ctx, "item")
	if err != nil {
		t.Fatalf("List items: %v", err)
	}
	if len(items) != n {
		t.Errorf("items: got %d, want %d", len(items), n)
	}
	for i, obj := range items {
		want := i + 1
		if obj.Key != itemKey(want) {
			t.Fatalf("item %d: got key %s, want %s", i, obj.Key, itemKey(want))
		}
		if obj.Revision != int64(want) || obj.Created != int64(want) {
			t.Errorf("item %s: got revision %d created %d, want %d", obj.Key, obj.Revision, obj.Created, want)
		}
		if !bytes.Equal(obj.Value, crashPayload(want)) {
			t.Errorf("item %s: torn value of %d bytes, want %d bytes", obj.Key, len(obj.Value), len(crashPayload(want)))
		}
	}

	window, err := s.List(ctx, "window")
	if err != nil {
		t.Fatalf("List window: %v", err)
	}
	var got, want []string
	for _, obj := range window {
		got = append(got, obj.Key)
	}
	for i := max(1, n-crashWindow+1); i <= n; i++ {
		want = append(want, itemKey(i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("window: got %q, want %q", got, want)
	}
	return n
}
