package benchkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/redis/go-redis/v9"
)

// Addr is an endpoint's host:port.
func Addr(e *types.Endpoint) string {
	return net.JoinHostPort(aws.ToString(e.Address), strconv.Itoa(int(aws.ToInt32(e.Port))))
}

// WaitAvailable describes replication group id every poll until it is available, for 15 minutes at most.
func WaitAvailable(ctx context.Context, c *elasticache.Client, id string, poll time.Duration) (types.ReplicationGroup, error) {
	for deadline := time.Now().Add(15 * time.Minute); time.Now().Before(deadline); time.Sleep(poll) {
		g, err := Group(ctx, c, id)
		if err != nil {
			return g, err
		}
		if aws.ToString(g.Status) == "available" {
			return g, nil
		}
	}
	return types.ReplicationGroup{}, fmt.Errorf("replication group %s is not available after 15 minutes", id)
}

// StartEngine starts a bare engine binary (valkey-server, redis-server) on 127.0.0.1:port, without
// persistence, in a scratch directory, with the extra arguments args, and waits until it listens; stop ends
// it and removes the directory.
func StartEngine(binary string, port int, args ...string) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "bench-engine")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir}, args...)...)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	if err := WaitListening(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// Fill writes n keys "key:<i>" of valueSize bytes each through rdb, pipelined 1000 at a time.
func Fill(ctx context.Context, rdb *redis.Client, n, valueSize int) error {
	value := strings.Repeat("v", valueSize)
	p := rdb.Pipeline()
	for i := range n {
		p.Set(ctx, "key:"+strconv.Itoa(i), value, 0)
		if p.Len() == 1000 {
			if _, err := p.Exec(ctx); err != nil {
				return err
			}
		}
	}
	_, err := p.Exec(ctx)
	return err
}
