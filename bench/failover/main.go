// Command failover measures replication groups on real engines: time to available for a three-node group,
// time from SIGKILL of the primary engine to the first successful write at the PrimaryEndpoint (over many
// runs, the group healing in between), and redis-benchmark throughput through the PrimaryEndpoint against
// the primary node directly, in one run. With -busy N, every other failover happens while snapshots of N
// cache clusters of -busy-mb MiB each are being copied (more copies than the controller has workers for one
// kind), and the two sets of failovers are reported side by side.
//
//	go run ./bench/failover [-runs 20] [-engine valkey] [-busy 5 -busy-mb 128]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/ecache/ecache/bench/internal/benchkit"
)

func main() {
	runs := flag.Int("runs", 20, "failovers to measure")
	eng := flag.String("engine", "valkey", "valkey or redis")
	rounds = flag.Int("rounds", 3, "redis-benchmark rounds per pipeline depth, alternating the node and the endpoint")
	busy = flag.Int("busy", 0, "cache clusters whose snapshots are copied during every other failover")
	busyMB = flag.Int("busy-mb", 128, "MiB of data in each busy cluster")
	flag.Parse()
	if err := run(*runs, *eng); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// resp sends one command over a fresh connection and returns the first reply line.
func resp(addr string, timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// healthy reports whether the group is available with all three members and both replicas acknowledging.
func healthy(ctx context.Context, c *elasticache.Client, primaryEP string) bool {
	g, err := benchkit.Group(ctx, c, "bench")
	if err != nil || aws.ToString(g.Status) != "available" {
		return false
	}
	reply, err := resp(primaryEP, time.Second, "WAIT", "2", "500")
	return err == nil && reply == ":2"
}

var rounds, busy, busyMB *int

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func run(runs int, eng string) error {
	ctx := context.Background()
	s, err := benchkit.Start("30000-30099")
	if err != nil {
		return err
	}
	defer s.Stop()
	c := s.Client()

	begin := time.Now()
	if _, err := c.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
		ReplicationGroupId: aws.String("bench"), ReplicationGroupDescription: aws.String("bench"), Engine: aws.String(eng),
		CacheNodeType: aws.String("cache.t3.small"), NumCacheClusters: aws.Int32(3), AutomaticFailoverEnabled: aws.Bool(true),
	}); err != nil {
		return err
	}
	g, err := benchkit.WaitAvailable(ctx, c, "bench", time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Printf("CreateReplicationGroup (%s, 3 nodes) -> available: %v\n", eng, time.Since(begin).Round(100*time.Microsecond))
	primaryEP := benchkit.Addr(g.NodeGroups[0].PrimaryEndpoint)
	if *busy > 0 {
		if err := startBusy(ctx, c, *busy, *busyMB, eng); err != nil {
			return err
		}
		fmt.Printf("%d busy cache clusters of %d MiB each\n", *busy, *busyMB)
	}

	var ds, busyDs []time.Duration
	for i := range runs {
		deadline := time.Now().Add(time.Minute)
		for !healthy(ctx, c, primaryEP) {
			if time.Now().After(deadline) {
				return fmt.Errorf("run %d: the group did not heal", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if g, err = benchkit.Group(ctx, c, "bench"); err != nil {
			return err
		}
		var primary string
		for _, m := range g.NodeGroups[0].NodeGroupMembers {
			if aws.ToString(m.CurrentRole) == "primary" {
				primary = aws.ToString(m.CacheClusterId)
			}
		}
		pid := 0
		for id, p := range s.EnginePIDs() {
			if strings.HasPrefix(id, primary+"-") {
				pid = p
			}
		}
		if pid == 0 {
			return fmt.Errorf("run %d: no engine for primary %s", i, primary)
		}
		var copying []string
		if *busy > 0 && i%2 == 1 {
			if copying, err = snapshotBusy(ctx, c, *busy, i); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // the copies are under way
		}
		killed := time.Now()
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for {
			if reply, err := resp(primaryEP, 200*time.Millisecond, "SET", "bench", strconv.Itoa(i)); err == nil && reply == "+OK" {
				break
			}
			if time.Since(killed) > 30*time.Second {
				return fmt.Errorf("run %d: no successful write 30s after the kill", i)
			}
			time.Sleep(time.Millisecond)
		}
		if copying == nil {
			ds = append(ds, time.Since(killed))
			continue
		}
		busyDs = append(busyDs, time.Since(killed))
		if err := dropSnapshots(ctx, c, copying); err != nil {
			return err
		}
	}
	fmt.Printf("SIGKILL of the primary engine -> first successful write at PrimaryEndpoint (%d runs): %s\n", len(ds), benchkit.Summary(ds))
	if len(busyDs) > 0 {
		fmt.Printf("the same while %d snapshot copies are under way (%d runs): %s\n", *busy, len(busyDs), benchkit.Summary(busyDs))
		fmt.Printf("ratio of the medians, quiet / busy: %.2f\n", benchkit.Percentile(ds, 0.5).Seconds()/benchkit.Percentile(busyDs, 0.5).Seconds())
	}

	// Throughput through the PrimaryEndpoint against the primary node directly.
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		fmt.Println("redis-benchmark not installed: throughput comparison skipped")
		return nil
	}
	deadline := time.Now().Add(time.Minute)
	for !healthy(ctx, c, primaryEP) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	g, _ = benchkit.Group(ctx, c, "bench")
	var direct string
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "primary" {
			direct = benchkit.Addr(m.ReadEndpoint)
		}
	}
	bench := func(addr string, pipeline int) (float64, error) {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-t", "set,get", "-n", "100000", "-c", "50",
			"-P", strconv.Itoa(pipeline), "-q").Output()
		if err != nil {
			return 0, err
		}
		total := 0.0
		for _, line := range strings.FieldsFunc(string(out), func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.Contains(line, "rps=") {
				continue // a progress line
			}
			if _, rest, ok := strings.Cut(line, ": "); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					v, _ := strconv.ParseFloat(f[0], 64)
					total += v
				}
			}
		}
		return total / 2, nil
	}
	fmt.Printf("PrimaryEndpoint %s, primary node %s\n", primaryEP, direct)
	for _, pipeline := range []int{1, 16} {
		// Alternate the two, three times each, so that neither gets the quieter moments of the machine.
		var ds, ps []float64
		for range *rounds {
			d, err := bench(direct, pipeline)
			if err != nil {
				return err
			}
			p, err := bench(primaryEP, pipeline)
			if err != nil {
				return err
			}
			ds, ps = append(ds, d), append(ps, p)
		}
		d, p := median(ds), median(ps)
		fmt.Printf("redis-benchmark SET+GET, 50 clients, pipeline %d, 100k requests each (median of %d rounds of the mean of the two):\n"+
			"  primary node directly: %.0f req/s\n  through PrimaryEndpoint: %.0f req/s\n  ratio endpoint/direct: %.2f\n", pipeline, *rounds, d, p, p/d)
	}
	return nil
}
