// Package chdbtest gives tests an embedded ClickHouse engine: one chDB data
// directory per test process (chDB serves one per process), and a database
// of its own for each test, so tests in one binary do not see each other's
// tables.
package chdbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tapline/tapline/store/chdb"
)

const dirPrefix = "tapline-chdbtest-"

// Dir is this test process's chDB data directory. It is named after the
// process id, so it needs no shared state; RemoveDir deletes it and Open
// deletes those of processes that no longer run.
func Dir() string {
	return filepath.Join(os.TempDir(), dirPrefix+strconv.Itoa(os.Getpid()))
}

// RemoveDir deletes this process's data directory. Call it from TestMain
// after m.Run, when no engine is open any more.
func RemoveDir() error {
	return os.RemoveAll(Dir())
}

// removeStaleDirs deletes the data directories of earlier test processes
// that have exited.
func removeStaleDirs() {
	entries, _ := os.ReadDir(os.TempDir())
	for _, ent := range entries {
		pid, ok := strings.CutPrefix(ent.Name(), dirPrefix)
		if !ok || pid == strconv.Itoa(os.Getpid()) {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pid)); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(filepath.Join(os.TempDir(), ent.Name()))
		}
	}
}

// RequireLibrary skips t when libchdb.so is missing, unless the CI
// environment variable is set: there, a missing library fails the test.
func RequireLibrary(t testing.TB) {
	t.Helper()
	path := chdb.DefaultLibPath()
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("libchdb.so not found at %q (run `make libchdb` or set %s)", path, chdb.LibraryEnv)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

var nonWord = regexp.MustCompile(`[^a-z0-9_]+`)

// Database returns a database name unique to this call, readable in logs.
func Database(t testing.TB) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "test_" + name + "_" + hex.EncodeToString(suffix)
}

// Open returns an engine on Dir() with a fresh database, dropped and closed
// when the test ends. edit, if given, changes the options before Open.
func Open(t testing.TB, edit ...func(*chdb.Options)) *chdb.Engine {
	t.Helper()
	RequireLibrary(t)
	removeStaleDirs()
	opts := chdb.Options{Path: Dir(), Database: Database(t), Conns: 3, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range edit {
		f(&opts)
	}
	e, err := chdb.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Fails harmlessly when the test closed the engine itself.
		_ = e.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+e.Database()+"`", nil)
		if err := e.Close(); err != nil {
			t.Errorf("close chdb engine: %v", err)
		}
	})
	return e
}
