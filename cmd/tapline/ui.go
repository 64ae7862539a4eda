package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/tapline/tapline/collector"
	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/ui"
)

// addUI mounts the web UI at / on the main listener, over the query API q
// (added before it, so it has started when the UI starts). With ui.enabled
// false it adds nothing.
func (p *process) addUI(q *queryAPI, version string) {
	if !p.cfg.UI.Enabled {
		return
	}
	syslog := p.cfg.Collector.NginxSyslog
	if syslog == collector.NginxSyslogOff {
		syslog = "" // the UI says the receiver is off
	}
	c := &webUI{
		cfg: p.cfg.UI, q: q, store: p.store, logger: p.logger, version: version,
		compliance: p.cfg.Compliance.WithDataDir(p.dataDir),
		endpoints: ui.Endpoints{
			OTLPGRPC: p.cfg.Collector.OTLPGRPC, OTLPHTTP: httpURL(p.cfg.Collector.OTLPHTTP),
			NginxSyslog: syslog, Proxy: "localhost:8443",
		},
	}
	p.svc.Add("ui", c)
	p.svc.Handle("/", c)
}

// webUI is the UI as a component: Start connects it to the started query
// API in process; until then, and after Shutdown, pages answer 503.
type webUI struct {
	cfg        ui.Config
	q          *queryAPI
	store      *storage
	logger     *slog.Logger
	version    string
	compliance compliance.Config
	endpoints  ui.Endpoints

	mu      sync.Mutex
	srv     *ui.Server
	inproc  *ui.InProcess
	handler http.Handler
}

func (w *webUI) Start(ctx context.Context) error {
	w.q.mu.Lock()
	qsrv := w.q.srv
	w.q.mu.Unlock()
	if qsrv == nil {
		return errors.New("ui: the query API has not started")
	}
	inproc, err := ui.NewInProcess(qsrv)
	if err != nil {
		return err
	}
	opts := ui.Options{Logger: w.logger, Version: w.version, Endpoints: w.endpoints}
	if eng := w.store.Engine(); eng != nil {
		reports, err := ui.NewReports(eng, w.compliance, w.version, w.logger)
		if err != nil {
			return errors.Join(err, inproc.Close())
		}
		opts.Compliance = reports
	}
	srv, err := ui.New(w.cfg, inproc.Backend(), opts)
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		return errors.Join(err, inproc.Close())
	}
	w.mu.Lock()
	w.srv, w.inproc, w.handler = srv, inproc, srv.Handler()
	w.mu.Unlock()
	return nil
}

func (w *webUI) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	h := w.handler
	w.mu.Unlock()
	serveWhileRunning(rw, r, h, "UI")
}

func (w *webUI) Shutdown(ctx context.Context) error {
	w.mu.Lock()
	srv, inproc := w.srv, w.inproc
	w.srv, w.inproc, w.handler = nil, nil, nil
	w.mu.Unlock()
	var errs []error
	if srv != nil {
		errs = append(errs, srv.Shutdown(ctx))
	}
	if inproc != nil {
		errs = append(errs, inproc.Close())
	}
	return errors.Join(errs...)
}

// httpURL writes a listen address as the URL a client uses.
func httpURL(addr string) string {
	if addr == "" || strings.Contains(addr, "://") {
		return addr
	}
	if strings.HasPrefix(addr, "0.0.0.0:") || strings.HasPrefix(addr, ":") {
		addr = "localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	}
	return "http://" + addr
}
