package replication

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Databases lists the numbers of n's databases that hold keys (INFO keyspace).
func Databases(ctx context.Context, n Node) ([]int, error) {
	c, err := dial(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("databases of %s: %w", n.Addr, err)
	}
	defer c.close()
	text, err := str(c.do(0, "INFO", "keyspace"))
	if err != nil {
		return nil, fmt.Errorf("databases of %s: %w", n.Addr, err)
	}
	var out []int
	for _, line := range strings.Split(text, "\n") {
		name, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		if db, err := strconv.Atoi(strings.TrimPrefix(name, "db")); ok && strings.HasPrefix(name, "db") && err == nil {
			out = append(out, db)
		}
	}
	return out, nil
}

// PauseAndSave pauses writes on n for up to pause (CLIENT PAUSE WRITE) and saves its dataset to its RDB file
// (SAVE), so that a restart right after loads every acknowledged write. A failed save ends the pause.
func PauseAndSave(ctx context.Context, n Node, pause time.Duration) error {
	c, err := dial(ctx, n)
	if err != nil {
		return fmt.Errorf("pause and save %s: %w", n.Addr, err)
	}
	defer c.close()
	if _, err := c.do(0, "CLIENT", "PAUSE", strconv.FormatInt(pause.Milliseconds(), 10), "WRITE"); err != nil {
		return fmt.Errorf("pause writes on %s: %w", n.Addr, err)
	}
	// SAVE takes as long as writing the dataset takes: up to the caller's context.
	if _, err := c.do(pause, "SAVE"); err != nil {
		_, _ = c.do(0, "CLIENT", "UNPAUSE")
		return fmt.Errorf("save %s: %w", n.Addr, err)
	}
	return nil
}
