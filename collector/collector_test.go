package collector

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// testCollector is a running collector with the built-in configuration on
// free loopback ports, in front of an embedded JetStream.
type testCollector struct {
	*Collector
	nats     *natsexportertest.Server
	reg      *prometheus.Registry
	grpcAddr string
	httpAddr string
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// freeUDPAddr returns a loopback UDP address that was free a moment ago.
func freeUDPAddr(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

// startCollector starts the built-in configuration; edit, if given, changes
// the settings first (the nginx receiver is off unless edit turns it on).
func startCollector(t *testing.T, opts natsexportertest.Options, edit ...func(*Settings)) *testCollector {
	t.Helper()
	srv := natsexportertest.RunServer(t, opts)
	srv.CreateStream(t)
	tc := &testCollector{nats: srv, reg: prometheus.NewRegistry(), grpcAddr: freeAddr(t), httpAddr: freeAddr(t)}
	set := Settings{
		NATS:             NATS{URL: srv.URL()},
		OTLPGRPCEndpoint: tc.grpcAddr,
		OTLPHTTPEndpoint: tc.httpAddr,
		Logger:           slog.New(slog.DiscardHandler),
		Registerer:       tc.reg,
		Version:          "test",
	}
	for _, f := range edit {
		f(&set)
	}
	c, err := New(set)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.Shutdown(ctx))
	})
	tc.Collector = c
	tc.waitConnected(t)
	return tc
}

// waitConnected waits until both nats exporters (traces, logs) are
// connected: they connect in the background after Start.
func (tc *testCollector) waitConnected(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		return tc.metric(t, "tapline_natsexporter_connected") == 2
	}, 30*time.Second, 10*time.Millisecond)
}

// metric sums the values of a metric family's series whose labels include
// the given ones (counters, gauges, or histogram counts).
func (tc *testCollector) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := tc.reg.Gather()
	require.NoError(t, err)
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			case m.Histogram != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

func hasLabels(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func metricNames(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName()+"{"+strconv.Itoa(len(mf.GetMetric()))+"}")
	}
	return names
}
