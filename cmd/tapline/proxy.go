package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/tap"
)

// proxyCommand is `tapline proxy`: the mTLS reverse-proxy tap alone.
func (a *app) proxyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "proxy",
		Short: "Run the mTLS proxy tap in front of FastAPI services (default 127.0.0.1:8443)",
		Long: `Run the mTLS reverse-proxy tap.

The proxy terminates TLS on proxy.listeners (default 127.0.0.1:8443, client
certificates required), routes requests by host and path prefix
(proxy.routes) to upstreams (proxy.upstreams), applies each route's policy,
and records a tapline.tls event per connection, a tapline.access event and a
server span per request on the bus: bus.url, or the embedded server of a
tapline run on this machine (bus.embedded.listen). The bus being away never
holds requests up: events that do not fit the buffer are counted and
reported once it is back. Certificate files are re-read when they change.

Health, readiness and the proxy's metrics are on the HTTP address
(http.addr); run it on another port than a tapline run on the same machine,
e.g. --set http.addr=127.0.0.1:8888.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("proxy")
			if err != nil {
				return err
			}
			if !cfg.Proxy.Configured() {
				return errors.New("proxy: no upstreams or routes configured (proxy.upstreams, proxy.routes)")
			}
			p, err := a.newProcess("tapline proxy", cfg)
			if err != nil {
				return err
			}
			p.addProxy()
			return p.svc.Run(cmd.Context())
		},
	}
}

// addProxy adds the proxy tap. In a process with a bus (tapline run) it
// publishes through it; otherwise it connects to the configured bus itself,
// lazily, so that the proxy serves even while the bus is unreachable.
func (p *process) addProxy() *proxyComponent {
	c := &proxyComponent{cfg: p.cfg.Proxy, busCfg: p.cfg.Bus, bus: p.bus, reg: p.reg, logger: p.logger.With("component", "proxy")}
	p.svc.Add("proxy", c)
	p.svc.AddCheck("proxy", c.ready)
	return c
}

// proxyComponent builds the proxy in Start, once the bus (if any) runs.
type proxyComponent struct {
	cfg    proxy.Config
	busCfg bus.Config
	bus    *bus.Bus // nil: connect to busCfg
	reg    prometheus.Registerer
	logger *slog.Logger

	run started[proxyRun]
}

// proxyRun is what proxyComponent.Start built.
type proxyRun struct {
	px  *proxy.Proxy
	pub *lazyPublisher // nil: the process's bus
}

func (c *proxyComponent) Start(ctx context.Context) error {
	var pub tap.Publisher
	var lazy *lazyPublisher
	if c.bus != nil && c.bus.JetStream() != nil {
		pub = tap.JetStream(c.bus.JetStream())
	} else {
		lazy = &lazyPublisher{cfg: c.busCfg, logger: c.logger}
		pub = lazy
	}
	px, err := proxy.New(c.cfg, pub, c.reg, c.logger)
	if err != nil {
		return err
	}
	if err := px.Start(ctx); err != nil {
		lazy.close()
		return err
	}
	c.run.set(&proxyRun{px: px, pub: lazy})
	return nil
}

func (c *proxyComponent) Shutdown(ctx context.Context) error {
	run := c.run.take()
	if run == nil {
		return nil
	}
	err := run.px.Shutdown(ctx)
	run.pub.close()
	return err
}

func (c *proxyComponent) ready(context.Context) error {
	run := c.run.get()
	if run == nil || !run.px.Ready() {
		return errors.New("proxy not serving")
	}
	return nil
}

// lazyPublisher connects to the bus on first use and keeps the connection;
// a failed connect is a failed publish, which the tap retries.
type lazyPublisher struct {
	cfg    bus.Config
	logger *slog.Logger

	mu  sync.Mutex
	nc  *nats.Conn
	pub tap.Publisher
}

func (l *lazyPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pub == nil {
		nc, js, err := bus.Connect(ctx, l.cfg, l.logger, nats.Name("tapline proxy"))
		if err != nil {
			return fmt.Errorf("proxy: bus: %w", err)
		}
		l.nc, l.pub = nc, tap.JetStream(js)
	}
	return l.pub.Publish(ctx, subject, msgID, data)
}

func (l *lazyPublisher) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nc != nil {
		l.nc.Close()
		l.nc = nil
	}
}
