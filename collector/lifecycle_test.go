package collector

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// TestStartShutdownTwice runs a collector on the same ports and registry
// twice (ports and metrics are released), shuts one down twice, and one that
// never started.
func TestStartShutdownTwice(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	reg := prometheus.NewRegistry()
	set := Settings{
		NATS:             NATS{URL: srv.URL()},
		OTLPGRPCEndpoint: freeAddr(t),
		OTLPHTTPEndpoint: freeAddr(t),
		Logger:           slog.New(slog.DiscardHandler),
		Registerer:       reg,
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		c, err := New(set)
		require.NoError(t, err)
		require.False(t, c.Ready())
		require.NoError(t, c.Start(ctx))
		require.True(t, c.Ready())
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(set.OTLPGRPCEndpoint), otlptracegrpc.WithInsecure())
		require.NoError(t, err)
		sendSpans(t, exp, 5)
		require.Error(t, c.Start(ctx), "a second Start")
		require.NoError(t, c.Shutdown(ctx))
		require.NoError(t, c.Shutdown(ctx))
		require.False(t, c.Ready())
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed after Shutdown")
		}
	}
	_, spans := srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 10, spans)

	c, err := New(set)
	require.NoError(t, err)
	require.NoError(t, c.Shutdown(ctx), "shutdown before start")
}

func TestStartFailsWhenPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	c, err := New(Settings{
		NATS:             NATS{URL: "nats://127.0.0.1:1"},
		OTLPGRPCEndpoint: l.Addr().String(),
		OTLPHTTPEndpoint: freeAddr(t),
		Logger:           slog.New(slog.DiscardHandler),
		Registerer:       prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	err = c.Start(context.Background())
	require.ErrorContains(t, err, l.Addr().String())
	require.NoError(t, c.Shutdown(context.Background()))
}

// TestStartsWithoutNATS: the collector starts and serves while NATS is not
// there yet.
func TestStartsWithoutNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(Settings{
		NATS:             NATS{URL: "nats://127.0.0.1:1"},
		OTLPGRPCEndpoint: freeAddr(t),
		OTLPHTTPEndpoint: freeAddr(t),
		Logger:           slog.New(slog.DiscardHandler),
		Registerer:       prometheus.NewRegistry(),
	})
	require.NoError(t, err)
	require.NoError(t, c.Start(ctx))
	require.True(t, c.Ready())
	require.NoError(t, c.Shutdown(ctx))
}

// TestRun runs until its context ends.
func TestRun(t *testing.T) {
	srv := natsexportertest.RunServer(t, natsexportertest.Options{})
	srv.CreateStream(t)
	grpcAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Settings{
			NATS:             NATS{URL: srv.URL()},
			OTLPGRPCEndpoint: grpcAddr,
			OTLPHTTPEndpoint: freeAddr(t),
			Logger:           slog.New(slog.DiscardHandler),
			Registerer:       prometheus.NewRegistry(),
		})
	}()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", grpcAddr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, 30*time.Second, 10*time.Millisecond, "the OTLP listener comes up")
	exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	sendSpans(t, exp, 3)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	_, spans := srv.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 3, spans)
}
