package replication

import (
	"context"
	"time"

	"github.com/ecache/ecache/internal/resp"
)

// readTimeout bounds each reply; blocking commands (SAVE, WAIT) add their own time to it.
const readTimeout = 2 * time.Second

// dial opens a short-lived connection to n, authenticated when n has a password.
func dial(ctx context.Context, n resp.Node) (*resp.Conn, error) {
	return resp.Dial(ctx, n, resp.Options{ReadTimeout: readTimeout})
}
