// Command ecache is a self-hosted Amazon ElastiCache: `ecache serve` answers the ElastiCache API
// (Query protocol 2015-02-02, SigV4) and runs real Valkey, Redis OSS and Memcached engines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ecache/ecache/internal/app"
)

const usage = `ecache is a self-hosted Amazon ElastiCache.

Usage:
  ecache serve [flags]   run the ElastiCache API and the engines it manages
  ecache txlog-replica   run one replica of a durability transaction log
  ecache help            show this help

Every flag of serve has an ECACHE_* environment variable (--node-ports: ECACHE_NODE_PORTS).
On first start ecache generates an access key, a secret key and an account id, keeps them in
the data dir and prints them. Point any AWS client at it:

  aws elasticache describe-cache-clusters --endpoint-url http://127.0.0.1:8686

Engines run in their own sessions: stopping ecache leaves them serving, and the next
ecache serve on the same data dir adopts them.

Run "ecache serve --help" for the flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ecache:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServeFlags(args[1:])
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return app.Serve(ctx, cfg, stdout, stderr)
	case "txlog-replica":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return runTxlogReplica(ctx, args[1:], stderr)
	default:
		return fmt.Errorf("unknown command %q; run ecache help", args[0])
	}
}
