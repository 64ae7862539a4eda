package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Reconnect backoff: doubling from reconnectMin up to reconnectMax, with
// jitter, forever.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Connect connects to the external NATS at cfg.URL, or to the embedded
// server at cfg.Embedded.Listen when cfg.URL is empty, with the configured
// credentials and TLS. It waits until the first connection succeeds or ctx is
// done; afterwards the connection reconnects forever with backoff. extra
// options come last (for example nats.Name or nats.InProcessServer).
func Connect(ctx context.Context, cfg Config, logger *slog.Logger, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	url := cfg.URL
	if cfg.IsEmbedded() {
		url = "nats://" + cfg.Embedded.Listen
	}
	opts, err := connectOptions(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	connected := make(chan struct{}, 1)
	opts = append(opts, nats.ConnectHandler(func(*nats.Conn) {
		select {
		case connected <- struct{}{}:
		default:
		}
	}))
	opts = append(opts, extra...)

	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: connect %s: %w", redactURL(url), err)
	}
	if !nc.IsConnected() {
		select {
		case <-connected:
		case <-ctx.Done():
			last := nc.LastError()
			nc.Close()
			if last == nil {
				last = ctx.Err()
			}
			return nil, nil, fmt.Errorf("bus: connect %s: %w", redactURL(url), last)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return nc, js, nil
}

func connectOptions(cfg Config, logger *slog.Logger) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("tapline"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", redactURL(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("nats async error", "subject", subject, "err", err)
		}),
	}
	if cfg.IsEmbedded() {
		return opts, nil
	}
	switch {
	case cfg.CredentialsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
	case cfg.NkeyFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus.nkey_file: %w", err)
		}
		opts = append(opts, o)
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token.Value()))
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Value()))
	}
	tlsCfg, err := cfg.TLS.Load()
	if err != nil {
		return nil, fmt.Errorf("bus.tls.%w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, nats.Secure(tlsCfg))
	}
	return opts, nil
}

func reconnectDelay(attempts int) time.Duration {
	d := reconnectMax
	if attempts < 16 {
		d = min(reconnectMin<<attempts, reconnectMax)
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter, not a secret
}

// redactURL hides a password or token in a nats://user:pass@host URL.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	return u[:scheme+3] + "***" + u[at:]
}

// ErrStreamConflict is returned by EnsureStream when a stream named TAPLINE
// exists with settings Tapline cannot change in place (its storage type).
var ErrStreamConflict = errors.New("bus: stream exists with incompatible settings")
