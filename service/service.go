package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Settings configure a Service.
type Settings struct {
	// Name names the process in logs and metrics ("tapline run").
	Name string
	// Logger receives the service's start and stop lines; nil discards.
	Logger *slog.Logger
	// Registry collects the process's metrics and is served on /metrics;
	// nil means a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// HTTPAddr is the main listener's host:port (port 0 picks one).
	HTTPAddr string
	// TLS, when not nil, makes the main listener serve HTTPS.
	TLS *tls.Config
	// ShutdownTimeout bounds Run's shutdown; 0 means 30 s.
	ShutdownTimeout time.Duration
	// Version and Commit are exported as the tapline_build_info metric.
	Version, Commit string
}

type namedComponent struct {
	name string
	c    Component
}

type check struct {
	name string
	fn   func(ctx context.Context) error
}

// Service is one tapline process: its components, its readiness and its
// main HTTP listener.
type Service struct {
	set    Settings
	logger *slog.Logger
	reg    *prometheus.Registry
	mux    *http.ServeMux
	state  atomic.Int32
	fatal  chan error

	mu         sync.Mutex
	components []namedComponent
	checks     []check
	started    int // components[:started] are running
	srv        *http.Server
	ln         net.Listener
	serveDone  chan struct{}
	running    bool
}

// New returns a Service in state NotReady with /healthz, /readyz and
// /metrics registered; nothing listens until Start.
func New(set Settings) *Service {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Registry == nil {
		set.Registry = prometheus.NewRegistry()
		set.Registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	if set.ShutdownTimeout <= 0 {
		set.ShutdownTimeout = 30 * time.Second
	}
	if set.Name == "" {
		set.Name = "tapline"
	}
	s := &Service{
		set:    set,
		logger: set.Logger,
		reg:    set.Registry,
		mux:    http.NewServeMux(),
		fatal:  make(chan error, 1),
	}
	s.state.Store(int32(NotReady))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tapline_ready",
			Help: "1 when every component of the process has started and it serves requests.",
		}, func() float64 {
			if s.State() == Ready {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "tapline_build_info",
			Help:        "Build of the running tapline binary.",
			ConstLabels: prometheus.Labels{"version": set.Version, "commit": set.Commit},
		}, func() float64 { return 1 }),
	)
	return s
}

// Registry is where components register their metrics.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Logger is the service's logger, for components to derive theirs.
func (s *Service) Logger() *slog.Logger { return s.logger }

// State is the current readiness.
func (s *Service) State() State { return State(s.state.Load()) }

// Add appends a component: Start starts components in the order they were
// added, Shutdown stops them in reverse. Add before Start.
func (s *Service) Add(name string, c Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		panic("service: Add after Start")
	}
	s.components = append(s.components, namedComponent{name: name, c: c})
}

// Handle mounts h on the main HTTP listener at pattern (http.ServeMux
// syntax, e.g. "/api/", "GET /ui/"). Mounted handlers answer 503 until the
// service is Ready and again once it is Stopping, so they never reach a
// component that has not started or has stopped. Call it before Start or
// from a component's Start (http.ServeMux is safe for that); a pattern
// registered twice panics, as with http.ServeMux.
func (s *Service) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.gate(h))
}

// AddCheck adds a readiness check: /readyz answers 503 while it fails.
// Keep checks cheap, they run on every probe.
func (s *Service) AddCheck(name string, fn func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, check{name: name, fn: fn})
}

// ReportFatal makes Run shut the service down and return err: for a
// component whose background work fails beyond repair after Start.
func (s *Service) ReportFatal(err error) {
	select {
	case s.fatal <- err:
	default: // one is enough
	}
}

// HTTPAddr is the address the main listener is bound to, once started.
func (s *Service) HTTPAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Start binds the main listener and serves health endpoints at once (state
// NotReady), then starts the components in order, and becomes Ready. If a
// component fails, the ones already started are shut down in reverse and
// the listener is closed.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("service: already started")
	}
	s.running = true
	s.mu.Unlock()

	start := time.Now()
	if err := s.listen(); err != nil {
		return err
	}
	for i, nc := range s.components {
		if err := nc.c.Start(ctx); err != nil {
			err = fmt.Errorf("start %s: %w", nc.name, err)
			return errors.Join(err, s.Shutdown(context.WithoutCancel(ctx)))
		}
		s.mu.Lock()
		s.started = i + 1
		s.mu.Unlock()
	}
	s.state.Store(int32(Ready))
	s.logger.Info(s.set.Name+" ready", "http", s.HTTPAddr(), "components", len(s.components), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (s *Service) listen() error {
	ln, err := net.Listen("tcp", s.set.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http.addr: %w", err)
	}
	if s.set.TLS != nil {
		ln = tls.NewListener(ln, s.set.TLS)
	}
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.serveDone = srv, ln, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.ReportFatal(fmt.Errorf("http server: %w", err))
		}
	}()
	return nil
}

// Shutdown moves to Stopping, stops the started components in reverse
// order, then drains and closes the listener. Safe before Start and twice.
func (s *Service) Shutdown(ctx context.Context) error {
	s.state.Store(int32(Stopping))
	s.mu.Lock()
	started := s.started
	s.started = 0
	srv, done := s.srv, s.serveDone
	s.srv = nil
	s.mu.Unlock()

	var errs []error
	for i := started - 1; i >= 0; i-- {
		nc := s.components[i]
		if err := nc.c.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", nc.name, err))
		}
	}
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown http server: %w", err))
			_ = srv.Close()
		}
		<-done
		s.logger.Info(s.set.Name + " stopped")
	}
	return errors.Join(errs...)
}

// Run starts the service, waits until ctx is done or a component reports a
// fatal error, and shuts down within Settings.ShutdownTimeout. It returns
// nil after a clean stop on ctx's end, also when ctx ends during the start
// (which Start has undone).
func (s *Service) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		if ctx.Err() != nil {
			s.logger.Info(s.set.Name+" start interrupted", "err", err)
			return nil
		}
		return err
	}
	var cause error
	select {
	case <-ctx.Done():
		s.logger.Info(s.set.Name + " stopping")
	case cause = <-s.fatal:
		s.logger.Error(s.set.Name+" stopping after a fatal error", "err", cause)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.set.ShutdownTimeout)
	defer cancel()
	return errors.Join(cause, s.Shutdown(sctx))
}

func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	st := s.State()
	if st != Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "%s\n", st)
		return
	}
	s.mu.Lock()
	checks := append([]check(nil), s.checks...)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var failed []string
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
			failed = append(failed, c.name+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, f := range failed {
			_, _ = fmt.Fprintln(w, f)
		}
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Service) gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := s.State(); st != Ready {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "tapline is "+st.String(), http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}
