package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/service"
)

// process is one tapline process being assembled: the configuration, the
// logger, the metrics registry and the service that runs the components.
// Subcommands add the parts they run with the add* methods, in start order,
// then call svc.Run.
type process struct {
	cfg     config.Config
	dataDir string
	logger  *slog.Logger
	reg     *prometheus.Registry
	svc     *service.Service

	bus   *bus.Bus // set by addBus
	store *storage // set by addStore
}

// newProcess prepares a process named name ("tapline run") from cfg.
func (a *app) newProcess(name string, cfg config.Config) (*process, error) {
	dir, err := dataDir(cfg)
	if err != nil {
		return nil, err
	}
	logger := newLogger(cfg.Log, a.stderr)
	tlsCfg, err := cfg.HTTP.TLS.Load()
	if err != nil {
		return nil, fmt.Errorf("http.tls.%w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	svc := service.New(service.Settings{
		Name:     name,
		Logger:   logger,
		Registry: reg,
		HTTPAddr: cfg.HTTP.Addr,
		TLS:      tlsCfg,
		Version:  a.version,
		Commit:   a.commit,
	})
	logger.Info(name+" starting", "version", a.version, "data_dir", dir)
	return &process{cfg: cfg, dataDir: dir, logger: logger, reg: reg, svc: svc}, nil
}

// addBus adds the bus: the embedded NATS server (unless bus.url is set), the
// connection and the TAPLINE stream.
func (p *process) addBus() *bus.Bus {
	p.bus = bus.New(p.cfg.Bus, p.dataDir, p.logger)
	p.svc.Add("bus", p.bus)
	return p.bus
}

// addStore adds the storage engine, with the schema migrated on start.
func (p *process) addStore() *storage {
	p.store = newStorage(p.cfg.Store, p.dataDir, p.logger)
	p.svc.Add("store", p.store)
	return p.store
}
