// Package bustest starts a real embedded NATS JetStream server for tests: on
// a free loopback port, with its store in the test's temporary directory,
// the TAPLINE stream ensured, stopped when the test ends.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/tapline/tapline/bus"
)

// Config returns a bus configuration for an embedded server on a free
// loopback port, with the default stream limits.
func Config() bus.Config {
	cfg := bus.Default()
	cfg.Embedded.Listen = "127.0.0.1:0"
	return cfg
}

// Start starts a bus (embedded server, connection, TAPLINE stream) with cfg
// and its data in dataDir; an empty dataDir means a fresh t.TempDir(). The
// bus is shut down when the test ends.
func Start(tb testing.TB, cfg bus.Config, dataDir string) *bus.Bus {
	tb.Helper()
	if dataDir == "" {
		dataDir = tb.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := bus.New(cfg, dataDir, nil)
	if err := b.Start(ctx); err != nil {
		tb.Fatalf("bustest: start bus: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			tb.Errorf("bustest: shutdown bus: %v", err)
		}
	})
	return b
}
