package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bus is the bus as one component of a tapline process: Start runs the
// embedded server when no URL is configured, connects, and ensures the
// TAPLINE stream; Shutdown drains the connection and stops the server.
// Components that publish or consume take the *Bus and call Conn or
// JetStream from their own Start, which runs after the bus has started.
type Bus struct {
	cfg     Config
	dataDir string
	logger  *slog.Logger

	mu       sync.Mutex
	embedded *Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
}

// New returns a Bus that keeps the embedded server's data under dataDir.
func New(cfg Config, dataDir string, logger *slog.Logger) *Bus {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{cfg: cfg, dataDir: dataDir, logger: logger}
}

// Start starts the embedded server if configured, connects and ensures the
// stream. A failed start undoes itself.
func (b *Bus) Start(ctx context.Context) (err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nc != nil {
		return errors.New("bus: already started")
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.shutdownLocked(context.WithoutCancel(ctx)))
		}
	}()
	cfg := b.cfg
	if cfg.IsEmbedded() {
		b.embedded, err = StartEmbedded(ctx, cfg, b.dataDir, b.logger)
		if err != nil {
			return err
		}
		// Connect to the address actually bound (port 0 picks one).
		cfg.Embedded.Listen = b.embedded.Addr()
	}
	var extra []nats.Option
	if b.embedded != nil {
		// In the same process: no socket between this connection and the
		// server (others, such as the collector's, still use the port).
		extra = append(extra, nats.InProcessServer(b.embedded.Server()))
	}
	b.nc, b.js, err = Connect(ctx, cfg, b.logger, extra...)
	if err != nil {
		return err
	}
	_, res, err := EnsureStream(ctx, b.js, cfg)
	if err != nil {
		return err
	}
	b.logger.Info("bus ready", "url", redactURL(b.nc.ConnectedUrl()), "stream", StreamName, "stream_state", res.String())
	return nil
}

// Conn is the NATS connection; nil before Start.
func (b *Bus) Conn() *nats.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nc
}

// JetStream is the JetStream context; nil before Start.
func (b *Bus) JetStream() jetstream.JetStream {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.js
}

// Embedded is the embedded server, or nil when an external URL is used.
func (b *Bus) Embedded() *Embedded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.embedded
}

// Shutdown drains the connection (pending publishes are flushed) and stops
// the embedded server. Safe before Start and twice.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shutdownLocked(ctx)
}

func (b *Bus) shutdownLocked(ctx context.Context) error {
	var errs []error
	if nc := b.nc; nc != nil {
		closed := make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err := nc.Drain(); err != nil {
			nc.Close()
		} else {
			select {
			case <-closed:
			case <-ctx.Done():
				nc.Close()
				errs = append(errs, fmt.Errorf("bus: drain: %w", ctx.Err()))
			}
		}
		b.nc, b.js = nil, nil
	}
	if b.embedded != nil {
		errs = append(errs, b.embedded.Shutdown(ctx))
		b.embedded = nil
	}
	return errors.Join(errs...)
}
