package ui_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/store"
)

func TestMain(m *testing.M) {
	before := goleak.IgnoreCurrent()
	code := m.Run()
	if shared.close != nil {
		shared.close()
	}
	querytest.Cleanup()
	if sharedDirOnce.dir != "" {
		_ = os.RemoveAll(sharedDirOnce.dir)
	}
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// shared is the query API's test dataset, loaded once through the real
// pipeline (OTLP on JetStream, stored by ingest), with one compliance report
// run over its day, in a database the read-only tests share.
var shared struct {
	once  sync.Once
	eng   store.Engine
	close func()
	err   error
}

// reportDay is the day of the dataset, which the shared compliance run
// covers.
var reportDay = querytest.Base.Truncate(24 * time.Hour)

func sharedEngine(t *testing.T) store.Engine {
	t.Helper()
	querytest.SkipWithoutChDB(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		shared.eng, shared.close, shared.err = querytest.Open(ctx, "ui")
		if shared.err != nil {
			return
		}
		if shared.err = querytest.Load(t, shared.eng, querytest.Build()); shared.err != nil {
			return
		}
		cfg := compliance.Default().WithDataDir(sharedDir(t))
		_, shared.err = compliance.Run(ctx, shared.eng, compliance.RunRequest{
			Framework: "soc2", From: reportDay, To: reportDay.AddDate(0, 0, 1),
			OutDir: cfg.OutputDir + "/soc2-seed", Config: cfg, Now: querytest.Now, Version: "test",
			Logger: slog.New(slog.DiscardHandler),
		})
	})
	require.NoError(t, shared.err)
	return shared.eng
}

var sharedDirOnce struct {
	sync.Once
	dir string
}

// sharedDir is a directory for the whole test binary (removed at exit).
func sharedDir(t *testing.T) string {
	sharedDirOnce.Do(func() {
		d, err := os.MkdirTemp("", "tapline-ui-test-")
		require.NoError(t, err)
		sharedDirOnce.dir = d
	})
	return sharedDirOnce.dir
}
