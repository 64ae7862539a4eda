package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/tap"
)

// Option changes how a Proxy is built.
type Option func(*options)

type options struct {
	clock func() time.Time
}

// WithClock makes the proxy read time from clock: certificate expiry,
// token validity and event times. For tests that need time to pass.
func WithClock(clock func() time.Time) Option { return func(o *options) { o.clock = clock } }

// Proxy is the mTLS reverse-proxy tap.
type Proxy struct {
	cfg     Config
	logger  *slog.Logger
	now     func() time.Time
	errLog  *log.Logger
	tap     recorderSink
	tapImpl *tap.Tap

	jwt       *identity.JWTValidator
	resolver  *identity.Resolver
	trusted   *identity.TrustedProxies
	routes    []*route
	upstreams []*upstream
	listeners []*listener
	metrics   metrics

	inflight sync.WaitGroup
	drainMu  sync.RWMutex
	draining bool // no new request starts on the proxy's own HTTP/1.1 loop

	mu      sync.Mutex
	state   int // stateNew, stateStarted, stateStopped
	ready   atomic.Bool
	cancel  context.CancelFunc
	bgGroup sync.WaitGroup
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// recorderSink is where records go: the tap, or nowhere when no publisher
// was given.
type recorderSink interface {
	Access(*tap.AccessRecord)
	TLS(*tap.TLSRecord)
}

type discard struct{}

func (discard) Access(*tap.AccessRecord) {}
func (discard) TLS(*tap.TLSRecord)       {}

type listener struct {
	cfg     ListenerConfig
	name    string
	port    int
	maxBody int64
	tls     *listenerTLS
	hs      *hsListener
	srv     *http.Server
	served  chan struct{}
}

type metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	handshakes *prometheus.CounterVec
	reloads    *prometheus.CounterVec
	conns      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_proxy_requests_total",
			Help: "Requests through the proxy tap, by listener, route and policy decision.",
		}, []string{"listener", "route", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tapline_proxy_request_duration_seconds",
			Help:    "Time from request headers to the end of the response, at the proxy tap.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"listener"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_proxy_tls_handshakes_total",
			Help: "TLS handshakes, by listener and result (ok or the failure reason).",
		}, []string{"listener", "result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tapline_proxy_tls_reloads_total",
			Help: "Reloads of a listener's certificate files, by result.",
		}, []string{"listener", "result"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tapline_proxy_open_connections",
			Help: "Established TLS connections, by listener.",
		}, []string{"listener"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.handshakes, m.reloads, m.conns} {
			if err := reg.Register(c); err != nil {
				return m, fmt.Errorf("proxy: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// New builds a proxy from cfg. Events and spans are published through pub
// (nil: not recorded); metrics are registered on reg (nil: not registered).
// Nothing listens before Start.
func New(cfg Config, pub tap.Publisher, reg prometheus.Registerer, logger *slog.Logger, opts ...Option) (*Proxy, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	o := options{clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, logger: logger, now: o.clock, errLog: errorLog(logger), tap: discard{}}
	var err error
	if p.metrics, err = newMetrics(reg); err != nil {
		return nil, err
	}
	if pub != nil {
		p.tapImpl, err = tap.New(cfg.Tap, pub, tap.Resource{ServiceName: cfg.ServiceName, Node: cfg.Node}, reg, logger)
		if err != nil {
			return nil, err
		}
		p.tap = p.tapImpl
	}
	if cfg.Identity.JWT != nil {
		if p.jwt, err = identity.NewJWTValidator(*cfg.Identity.JWT, o.clock); err != nil {
			return nil, err
		}
	}
	p.resolver = identity.NewResolver(p.jwt)
	if p.trusted, err = identity.NewTrustedProxies(cfg.Identity.TrustedProxies); err != nil {
		return nil, err
	}
	ups := map[string]*upstream{}
	for _, uc := range cfg.Upstreams {
		u, err := newUpstream(p, uc, p.errLog)
		if err != nil {
			return nil, err
		}
		ups[uc.Name] = u
		p.upstreams = append(p.upstreams, u)
	}
	for _, rc := range cfg.Routes {
		pol, err := policy.Compile(rc.Policy, rc.Name)
		if err != nil {
			return nil, err
		}
		p.routes = append(p.routes, &route{name: rc.Name, host: rc.Host, prefix: rc.PathPrefix, upstream: ups[rc.Upstream], policy: pol})
	}
	sortRoutes(p.routes)
	for _, lc := range cfg.Listeners {
		l := &listener{cfg: lc, name: lc.Name, maxBody: int64(lc.MaxBodyBytes), served: make(chan struct{})}
		name := lc.Name
		l.tls, err = newListenerTLS(lc, o.clock, logger.With("listener", name), func(ok bool) {
			p.metrics.reloads.WithLabelValues(name, map[bool]string{true: "ok", false: "error"}[ok]).Inc()
		})
		if err != nil {
			return nil, err
		}
		p.listeners = append(p.listeners, l)
	}
	return p, nil
}

// Start loads the certificates, binds the listeners and serves. It returns
// once listening; a failure undoes what was started.
func (p *Proxy) Start(ctx context.Context) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case stateStarted:
		return errors.New("proxy: already started")
	case stateStopped:
		return errors.New("proxy: stopped")
	}
	p.state = stateStarted
	defer func() {
		if err != nil {
			err = errors.Join(err, p.shutdownLocked(context.WithoutCancel(ctx)))
		}
	}()
	bg, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	if p.jwt != nil {
		if err := p.jwt.Start(ctx); err != nil {
			return fmt.Errorf("proxy: identity.jwt: %w", err)
		}
	}
	if p.tapImpl != nil {
		p.tapImpl.Start()
	}
	for _, l := range p.listeners {
		if _, err := l.tls.load(); err != nil {
			return fmt.Errorf("proxy: listener %s: tls: %w", l.name, err)
		}
		var lc net.ListenConfig
		inner, err := lc.Listen(ctx, "tcp", l.cfg.Address)
		if err != nil {
			return fmt.Errorf("proxy: listener %s: %w", l.name, err)
		}
		l.port = portOf(inner.Addr())
		l.srv = p.newServer(l)
		l.hs = newHSListener(inner, l.tls, l.name, l.cfg.HandshakeTimeout, p.now, p.trusted, p.recordHandshake(l),
			func(c *tls.Conn, tc *trackedConn) net.Conn { return p.serveH1(l, c, tc) })
		p.bgGroup.Add(2)
		go func() {
			defer p.bgGroup.Done()
			l.tls.reloadLoop(bg)
		}()
		go func() {
			defer p.bgGroup.Done()
			defer close(l.served)
			if err := l.srv.Serve(l.hs); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.logger.Error("proxy: listener stopped", "listener", l.name, "err", err)
			}
		}()
		p.logger.Info("proxy: listening", "listener", l.name, "address", inner.Addr().String(), "client_auth", l.cfg.TLS.ClientAuth)
	}
	p.ready.Store(true)
	return nil
}

func (p *Proxy) recordHandshake(l *listener) func(*tap.TLSRecord, error) {
	return func(rec *tap.TLSRecord, _ error) {
		result := "ok"
		if !rec.Established {
			result = rec.Failure
		}
		p.metrics.handshakes.WithLabelValues(l.name, result).Inc()
		p.tap.TLS(rec)
	}
}

func (p *Proxy) newServer(l *listener) *http.Server {
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(l, nil, w, r) }),
		ReadHeaderTimeout: l.cfg.ReadHeaderTimeout,
		ReadTimeout:       l.cfg.ReadTimeout,
		WriteTimeout:      l.cfg.WriteTimeout,
		IdleTimeout:       l.cfg.IdleTimeout,
		MaxHeaderBytes:    int(l.cfg.MaxHeaderBytes),
		ErrorLog:          p.errLog,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
				if t, ok := tc.NetConn().(*trackedConn); ok && t.info != nil {
					return context.WithValue(ctx, connKey{}, t.info)
				}
			}
			return ctx
		},
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				p.metrics.conns.WithLabelValues(l.name).Inc()
			case http.StateClosed, http.StateHijacked:
				p.metrics.conns.WithLabelValues(l.name).Dec()
			}
		},
	}
	if l.cfg.DisableHTTP2 {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
	}
	return srv
}

// Addr returns the address a listener is bound to (useful with port 0), or
// nil before Start or for an unknown name.
func (p *Proxy) Addr(listener string) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.listeners {
		if l.name == listener && l.hs != nil {
			return l.hs.Addr()
		}
	}
	return nil
}

// Ready reports whether the proxy is serving.
func (p *Proxy) Ready() bool { return p.ready.Load() }

// Shutdown stops accepting, lets in-flight requests finish until ctx is
// done (then closes what is left, WebSockets included), and flushes the
// tap. Safe before Start and more than once.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shutdownLocked(ctx)
}

func (p *Proxy) shutdownLocked(ctx context.Context) error {
	if p.state == stateStopped {
		return nil
	}
	wasStarted := p.state == stateStarted
	p.state = stateStopped
	p.ready.Store(false)
	p.drainMu.Lock()
	p.draining = true
	p.drainMu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	for _, l := range p.listeners {
		if l.srv == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.srv.Shutdown(ctx); err != nil {
				_ = l.srv.Close()
			}
		}()
	}
	wg.Wait()
	// Handlers of hijacked connections (WebSockets) are not waited for by
	// http.Server: wait for them here, then cut what is left.
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("proxy: requests still running at shutdown: %w", ctx.Err()))
	}
	for _, l := range p.listeners {
		if l.hs != nil {
			_ = l.hs.Close()
			l.hs.closeAll()
			l.hs.wait()
		}
	}
	<-done
	if p.cancel != nil {
		p.cancel()
	}
	p.bgGroup.Wait()
	for _, u := range p.upstreams {
		if u.h1 != nil {
			u.h1.closeIdle(true)
		} else {
			u.transport.CloseIdleConnections()
		}
	}
	if p.jwt != nil && wasStarted {
		p.jwt.Close()
	}
	if p.tapImpl != nil {
		if err := p.tapImpl.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if wasStarted {
		p.logger.Info("proxy: stopped")
	}
	return errors.Join(errs...)
}
