package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds the wait for the embedded server when ctx has no
// deadline.
const readyTimeout = 30 * time.Second

// Embedded is a running embedded NATS server with JetStream.
type Embedded struct {
	srv      *server.Server
	logger   *slog.Logger
	storeDir string

	once sync.Once
	done chan struct{}
}

// StoreDir returns the directory that holds the embedded server's data:
// cfg.Embedded.StoreDir, or dataDir/nats when that is empty.
func StoreDir(cfg Config, dataDir string) string {
	if cfg.Embedded.StoreDir != "" {
		return cfg.Embedded.StoreDir
	}
	return filepath.Join(dataDir, "nats")
}

// StartEmbedded starts a NATS server with JetStream on cfg.Embedded.Listen
// (loopback only), its file store in StoreDir(cfg, dataDir), and waits until
// it accepts connections. Stop it with Shutdown.
func StartEmbedded(ctx context.Context, cfg Config, dataDir string, logger *slog.Logger) (*Embedded, error) {
	if err := cfg.Embedded.Validate(); err != nil {
		return nil, fmt.Errorf("bus.embedded: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host, portText, _ := net.SplitHostPort(cfg.Embedded.Listen) // checked by Validate
	port, _ := strconv.Atoi(portText)
	if port == 0 {
		port = server.RANDOM_PORT
	}
	storeDir := StoreDir(cfg, dataDir)
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: create store dir: %w", err)
	}
	opts := &server.Options{
		ServerName:         "tapline",
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           storeDir,
		JetStreamMaxStore:  -1,
		JetStreamMaxMemory: -1,
		NoSigs:             true, // the tapline process owns signals
		HTTPPort:           0,    // no monitoring port
		MaxPayload:         maxPayload,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	nl := &natsLogger{l: logger.With("component", "nats")}
	srv.SetLoggerV2(nl, false, false, false)
	srv.Start()

	e := &Embedded{srv: srv, logger: logger, storeDir: storeDir, done: make(chan struct{})}
	if err := e.waitReady(ctx, nl); err != nil {
		return nil, errors.Join(fmt.Errorf("bus: embedded server on %s: %w", cfg.Embedded.Listen, err), e.Shutdown(context.WithoutCancel(ctx)))
	}
	logger.Info("embedded nats started", "listen", e.Addr(), "store_dir", storeDir)
	return e, nil
}

// waitReady polls until the server accepts connections with JetStream on,
// reports a fatal start error, or ctx (or readyTimeout) ends.
func (e *Embedded) waitReady(ctx context.Context, nl *natsLogger) error {
	deadline := time.Now().Add(readyTimeout)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	for {
		if msg := nl.lastFatal(); msg != "" {
			return errors.New(msg)
		}
		if e.srv.ReadyForConnections(50*time.Millisecond) && e.srv.JetStreamEnabled() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("not ready in time")
		}
	}
}

// maxPayload is the largest message the embedded server accepts: an OTLP
// batch of a few thousand spans fits with room to spare.
const maxPayload = 8 << 20

// ClientURL is the nats:// URL clients on this machine connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Addr is the address the server listens on (host:port).
func (e *Embedded) Addr() string {
	if a := e.srv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Server exposes the nats-server for in-process connections
// (nats.InProcessServer).
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits until its store is closed, or until
// ctx is done. Safe to call twice and on a nil *Embedded.
func (e *Embedded) Shutdown(ctx context.Context) error {
	if e == nil {
		return nil
	}
	e.once.Do(func() {
		go func() {
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
			close(e.done)
		}()
	})
	select {
	case <-e.done:
		e.logger.Info("embedded nats stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: embedded server shutdown: %w", ctx.Err())
	}
}

// natsLogger sends nats-server's log to slog. The server's banner and notices
// go to debug so that Tapline logs its start and stop once.
type natsLogger struct {
	l     *slog.Logger
	mu    sync.Mutex
	fatal string
}

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any)  {}

// Fatalf records the message: nats-server reports a failed start through it
// (a port in use, an unusable store directory).
func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.mu.Lock()
	n.fatal = msg
	n.mu.Unlock()
	n.l.Error(msg)
}

func (n *natsLogger) lastFatal() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}
