package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/clickhouse"
	"github.com/tapline/tapline/store/schema"
)

// openEngine opens the configured storage engine.
func openEngine(ctx context.Context, cfg config.Store, dataDir string, logger *slog.Logger) (store.Engine, error) {
	switch cfg.Engine {
	case config.EngineCHDB:
		eng, err := chdb.Open(ctx, chdb.Options{
			Path:     cfg.CHDBPath(dataDir),
			Database: cfg.Schema.Database,
			LibPath:  cfg.CHDB.Library,
			Conns:    cfg.CHDB.Connections,
			Logger:   logger,
		})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return eng, nil
	case config.EngineClickHouse:
		ch := cfg.ClickHouse
		eng, err := clickhouse.Open(ctx, clickhouse.Options{
			DSN:         ch.DSN.Value(),
			Database:    cfg.Schema.Database,
			Username:    ch.Username,
			Password:    ch.Password.Value(),
			Cluster:     cfg.Schema.Cluster,
			MaxConns:    ch.MaxConns,
			DialTimeout: ch.DialTimeout,
			TLS: clickhouse.TLSOptions{
				Enabled:            ch.TLS.Enabled,
				CAFile:             ch.TLS.CA,
				CertFile:           ch.TLS.Cert,
				KeyFile:            ch.TLS.Key,
				ServerName:         ch.TLS.ServerName,
				InsecureSkipVerify: ch.TLS.InsecureSkipVerify,
			},
			Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return eng, nil
	}
	return nil, fmt.Errorf("store.engine: %q is not one of chdb, clickhouse", cfg.Engine)
}

// storage is the storage engine as a component: Start opens it and applies
// the schema migrations, Shutdown closes it. Components that read or write
// take the *storage and call Engine from their own Start.
type storage struct {
	cfg     config.Store
	dataDir string
	logger  *slog.Logger

	mu  sync.Mutex
	eng store.Engine
}

func newStorage(cfg config.Store, dataDir string, logger *slog.Logger) *storage {
	return &storage{cfg: cfg, dataDir: dataDir, logger: logger}
}

func (s *storage) Start(ctx context.Context) error {
	eng, err := openEngine(ctx, s.cfg, s.dataDir, s.logger)
	if err != nil {
		return err
	}
	applied, err := schema.Migrate(ctx, eng, s.cfg.Schema)
	if err != nil {
		return errors.Join(fmt.Errorf("store: migrate: %w", err), eng.Close())
	}
	s.logger.Info("schema ready", "engine", s.cfg.Engine, "database", eng.Database(), "applied", len(applied), "changes", applied)
	s.mu.Lock()
	s.eng = eng
	s.mu.Unlock()
	return nil
}

// Engine is the open engine; nil before Start.
func (s *storage) Engine() store.Engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng
}

func (s *storage) Shutdown(context.Context) error {
	s.mu.Lock()
	eng := s.eng
	s.eng = nil
	s.mu.Unlock()
	if eng == nil {
		return nil
	}
	if err := eng.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
