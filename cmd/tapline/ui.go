package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

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

	run started[uiRun]
}

// uiRun is what webUI.Start built.
type uiRun struct {
	srv     *ui.Server
	inproc  *ui.InProcess
	handler http.Handler
}

func (w *webUI) Start(ctx context.Context) error {
	qsrv := w.q.server()
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
	w.run.set(&uiRun{srv: srv, inproc: inproc, handler: srv.Handler()})
	return nil
}

func (w *webUI) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var h http.Handler
	if run := w.run.get(); run != nil {
		h = run.handler
	}
	serveWhileRunning(rw, r, h, "UI")
}

func (w *webUI) Shutdown(ctx context.Context) error {
	run := w.run.take()
	if run == nil {
		return nil
	}
	return errors.Join(run.srv.Shutdown(ctx), run.inproc.Close())
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
