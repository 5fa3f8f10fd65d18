package replication

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// Databases lists the numbers of n's databases that hold keys (INFO keyspace).
func Databases(ctx context.Context, n resp.Node) ([]int, error) {
	c, err := dial(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("databases of %s: %w", n.Addr, err)
	}
	defer c.Close()
	text, err := resp.String(c.Do(ctx, "INFO", "keyspace"))
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
func PauseAndSave(ctx context.Context, n resp.Node, pause time.Duration) error {
	c, err := dial(ctx, n)
	if err != nil {
		return fmt.Errorf("pause and save %s: %w", n.Addr, err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(pause.Milliseconds(), 10), "WRITE"); err != nil {
		return fmt.Errorf("pause writes on %s: %w", n.Addr, err)
	}
	// SAVE takes as long as writing the dataset takes: up to the caller's context.
	if _, err := c.DoTimeout(ctx, readTimeout+pause, "SAVE"); err != nil {
		_, _ = c.Do(ctx, "CLIENT", "UNPAUSE")
		return fmt.Errorf("save %s: %w", n.Addr, err)
	}
	return nil
}
