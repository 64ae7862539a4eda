package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/tapline/tapline/config"
)

// loadConfig builds the configuration from the file, the environment and the
// flags; extra holds the subcommand's own "key=value" flags, applied last.
func (a *app) loadConfig(extra ...string) (config.Config, error) {
	return config.Load(a.sources(extra...))
}

// loadConfigFor is loadConfig for `tapline command`, which runs only some
// parts: it validates the sections config.CommandSections names, so that,
// e.g., `tapline ingest` starts without the proxy's certificate files.
func (a *app) loadConfigFor(command string) (config.Config, error) {
	src := a.sources()
	src.Sections = config.CommandSections(command)
	return config.Load(src)
}

func (a *app) sources(extra ...string) config.Sources {
	file := a.configFile
	if file == "" {
		file = a.getenv("TAPLINE_CONFIG")
	}
	set := append([]string(nil), a.set...)
	if a.dataDir != "" {
		set = append(set, "data_dir="+a.dataDir)
	}
	set = append(set, extra...)
	return config.Sources{File: file, Env: a.env, Set: set}
}

func (a *app) getenv(name string) string {
	for _, kv := range a.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// newLogger builds the process's logger from the log section.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // checked by Validate
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// dataDir makes the data directory absolute and creates it.
func dataDir(cfg config.Config) (string, error) {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	return dir, nil
}
