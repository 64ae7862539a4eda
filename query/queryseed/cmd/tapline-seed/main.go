// Command tapline-seed fills a Tapline data directory with generated
// requests through the real pipeline (embedded JetStream and ingest into
// the embedded ClickHouse), for benchmarks and demos:
//
//	go run ./query/queryseed/cmd/tapline-seed -data-dir ./bench-data -requests 3000000
//
// `tapline run --data-dir ./bench-data` or `tapline query` then serve it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tapline/tapline/query/queryseed"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/schema"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tapline-seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tapline-seed", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "tapline-data", "data directory (as tapline's data_dir): ClickHouse in DIR/clickhouse")
	requests := fs.Int("requests", 100000, "requests to generate (about 3.5 spans and 3 access events each)")
	window := fs.Duration("window", 24*time.Hour, "time window the requests are spread over")
	end := fs.String("end", "", "end of the window, RFC 3339 (default: the current hour)")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := queryseed.DefaultOptions(*requests)
	o.Window, o.Seed = *window, *seed
	if *end != "" {
		t, err := time.Parse(time.RFC3339, *end)
		if err != nil {
			return fmt.Errorf("-end: %w", err)
		}
		o.End = t.UTC()
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := chdb.Open(ctx, chdb.Options{Path: filepath.Join(*dataDir, "clickhouse"), Database: schema.DefaultDatabase, Logger: logger})
	if err != nil {
		return err
	}
	defer eng.Close()
	if _, err := schema.Migrate(ctx, eng, schema.DefaultOptions()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := queryseed.PrepareLedger(ctx, eng); err != nil {
		return err
	}
	last := time.Now()
	st, err := queryseed.Seed(ctx, eng, o, filepath.Join(*dataDir, "seed-nats"), logger, func(s queryseed.Stats) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintln(os.Stderr, "…", s)
		}
	})
	if err != nil {
		return err
	}
	fmt.Println(st)
	return os.RemoveAll(filepath.Join(*dataDir, "seed-nats"))
}
