package durable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// command is what the endpoint needs to know of an engine command: whether it may write or reads data, and
// where its keys are (COMMAND's first key, last key and step; keys unknown when it has none there or they move).
type command struct {
	write, read bool // read: flagged readonly (it reads the data; other commands do not touch it)

	first, last, step int
	movable           bool
}

// keysKnown reports whether the command's keys can be read from its arguments.
func (c command) keysKnown() bool { return c.first > 0 && !c.movable }

// keys are the command's keys in args (args[0] is the name).
func (c command) keys(args [][]byte) [][]byte {
	last := c.last
	if last < 0 {
		last = len(args) + last
	}
	var out [][]byte
	for i := c.first; i <= last && i < len(args) && c.step > 0; i += c.step {
		out = append(out, args[i])
	}
	return out
}

// commandTable reads the engine's command table (COMMAND). Commands that may write are those flagged write
// or may_replicate, and EXEC, whose transaction may.
func commandTable(ctx context.Context, n resp.Node) (map[string]command, error) {
	c, err := resp.Dial(ctx, n, resp.Options{DialTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	table, err := c.Do(ctx, "COMMAND")
	if err != nil {
		return nil, fmt.Errorf("durable: COMMAND: %w", err)
	}
	out := map[string]command{}
	writes := 0
	for _, entry := range table.Elems {
		if len(entry.Elems) < 6 {
			continue
		}
		cmd := command{first: int(entry.Elems[3].Int), last: int(entry.Elems[4].Int), step: int(entry.Elems[5].Int)}
		for _, f := range entry.Elems[2].Elems {
			switch f.Str {
			case "write", "may_replicate":
				cmd.write = true
			case "readonly":
				cmd.read = true
			case "movablekeys":
				cmd.movable = true
			}
		}
		name := strings.ToLower(entry.Elems[0].Str)
		if name == "exec" {
			cmd.write = true
		}
		if cmd.write {
			writes++
		}
		out[name] = cmd
	}
	if writes < 10 {
		return nil, errors.New("durable: COMMAND lists no write commands")
	}
	return out, nil
}
