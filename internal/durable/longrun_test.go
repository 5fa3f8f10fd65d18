package durable

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestShipperOutlivesTheTransferDeadline: writes keep being acknowledged long after the shipper took the
// dataset (a deadline set for the transfer must not outlive it).
func TestShipperOutlivesTheTransferDeadline(t *testing.T) {
	addr := startValkey(t)
	_, log := startLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ep := startShipperAndEndpoint(t, ctx, addr, log)
	c := redis.NewClient(&redis.Options{Addr: ep.Addr().String(), ReadTimeout: 5 * time.Second})
	defer c.Close()
	for start := time.Now(); time.Since(start) < 35*time.Second; time.Sleep(2 * time.Second) {
		if err := c.Set(ctx, "k", fmt.Sprint(time.Now().UnixNano()), 0).Err(); err != nil {
			t.Fatalf("a write %v after the shipper attached: %v", time.Since(start).Round(time.Second), err)
		}
	}
}
