package bus_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/bus/bustest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStreamExistsAfterStart(t *testing.T) {
	ctx := testCtx(t)
	cfg := bustest.Config()
	b := bustest.Start(t, cfg, "")

	s, err := b.JetStream().Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"tapline.traces", "tapline.logs", "tapline.events", "tapline.dlq"}, info.Config.Subjects)
	assert.Equal(t, jetstream.FileStorage, info.Config.Storage)
	assert.Equal(t, cfg.Stream.MaxAge, info.Config.MaxAge)
	assert.Equal(t, int64(cfg.Stream.MaxBytes), info.Config.MaxBytes)
	assert.Equal(t, cfg.Stream.DuplicateWindow, info.Config.Duplicates)
	assert.Equal(t, 1, info.Config.Replicas)

	// The embedded server listens on loopback only.
	host, _, err := net.SplitHostPort(b.Embedded().Addr())
	require.NoError(t, err)
	assert.True(t, net.ParseIP(host).IsLoopback(), "listens on %s", host)
}

func TestEnsureStreamIsIdempotent(t *testing.T) {
	ctx := testCtx(t)
	cfg := bustest.Config()
	b := bustest.Start(t, cfg, "")
	js := b.JetStream()

	_, err := js.Publish(ctx, bus.SubjectTraces, []byte("kept"))
	require.NoError(t, err)
	before, err := js.Stream(ctx, bus.StreamName)
	require.NoError(t, err)

	for range 2 {
		s, res, err := bus.EnsureStream(ctx, js, cfg)
		require.NoError(t, err)
		assert.Equal(t, bus.StreamUnchanged, res)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, before.CachedInfo().Created, info.Created)
		assert.Equal(t, uint64(1), info.State.Msgs, "messages kept")
	}

	// A changed limit is applied in place, keeping the messages.
	cfg.Stream.MaxAge = 24 * time.Hour
	s, res, err := bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	assert.Equal(t, bus.StreamUpdated, res)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour, info.Config.MaxAge)
	assert.Equal(t, uint64(1), info.State.Msgs)

	_, res, err = bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)
	assert.Equal(t, bus.StreamUnchanged, res)
}

func TestEnsureStreamStorageConflict(t *testing.T) {
	ctx := testCtx(t)
	b := bustest.Start(t, bustest.Config(), "")
	js := b.JetStream()
	require.NoError(t, js.DeleteStream(ctx, bus.StreamName))
	mem := bus.StreamSettings(bustest.Config().Stream)
	mem.Storage = jetstream.MemoryStorage
	_, err := js.CreateStream(ctx, mem)
	require.NoError(t, err)

	_, _, err = bus.EnsureStream(ctx, js, bustest.Config())
	require.ErrorIs(t, err, bus.ErrStreamConflict)
}

func TestMessagesSurviveRestart(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	cfg := bustest.Config()
	const n = 50

	first := bus.New(cfg, dir, nil)
	require.NoError(t, first.Start(ctx))
	for i := range n {
		msg := nats.NewMsg(bus.SubjectEvents)
		msg.Data = fmt.Appendf(nil, "event-%03d", i)
		msg.Header.Set(bus.HeaderMsgID, fmt.Sprintf("id-%d", i))
		_, err := first.JetStream().PublishMsg(ctx, msg)
		require.NoError(t, err)
	}
	require.NoError(t, first.Shutdown(ctx))
	require.DirExists(t, filepath.Join(dir, "nats", "jetstream"))

	second := bus.New(cfg, dir, nil)
	require.NoError(t, second.Start(ctx))
	t.Cleanup(func() { _ = second.Shutdown(context.Background()) })

	s, err := second.JetStream().Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	for i := range n {
		m, err := s.GetMsg(ctx, uint64(i+1))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("event-%03d", i), string(m.Data))
		assert.Equal(t, bus.SubjectEvents, m.Subject)
	}
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(n), info.State.Msgs)
}

func TestMsgIDDeduplication(t *testing.T) {
	ctx := testCtx(t)
	b := bustest.Start(t, bustest.Config(), "")
	js := b.JetStream()

	publish := func(id, body string) *jetstream.PubAck {
		msg := nats.NewMsg(bus.SubjectTraces)
		msg.Data = []byte(body)
		msg.Header.Set(bus.HeaderMsgID, id)
		ack, err := js.PublishMsg(ctx, msg)
		require.NoError(t, err)
		return ack
	}
	a := publish("batch-1", "first")
	assert.False(t, a.Duplicate)
	retry := publish("batch-1", "retried")
	assert.True(t, retry.Duplicate)
	assert.Equal(t, a.Sequence, retry.Sequence)
	other := publish("batch-2", "second")
	assert.False(t, other.Duplicate)

	s, err := js.Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), info.State.Msgs)
	m, err := s.GetMsg(ctx, a.Sequence)
	require.NoError(t, err)
	assert.Equal(t, "first", string(m.Data), "the first publish is the one kept")
}

func TestStartAndShutdownTwice(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	for range 2 {
		b := bus.New(bustest.Config(), dir, nil)
		require.NoError(t, b.Shutdown(ctx), "shutdown before start")
		require.NoError(t, b.Start(ctx))
		require.Error(t, b.Start(ctx), "second start")
		require.NoError(t, b.Shutdown(ctx))
		require.NoError(t, b.Shutdown(ctx))
		assert.Nil(t, b.Conn())
	}
	e, err := bus.StartEmbedded(ctx, bustest.Config(), t.TempDir(), nil)
	require.NoError(t, err)
	require.NoError(t, e.Shutdown(ctx))
	require.NoError(t, e.Shutdown(ctx))
	require.NoError(t, (*bus.Embedded)(nil).Shutdown(ctx))
}

func TestStartEmbeddedPortInUse(t *testing.T) {
	ctx := testCtx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	cfg := bustest.Config()
	cfg.Embedded.Listen = l.Addr().String()

	b := bus.New(cfg, t.TempDir(), nil)
	err = b.Start(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), l.Addr().String())
	assert.Nil(t, b.Conn())
}

// startServer runs a plain nats-server with JetStream and the given
// authorization, standing in for an external NATS.
func startServer(t *testing.T, auth func(*server.Options)) string {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	auth(opts)
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

func TestConnectExternal(t *testing.T) {
	userURL := startServer(t, func(o *server.Options) { o.Username, o.Password = "tap", "s3cret" })
	tokenURL := startServer(t, func(o *server.Options) { o.Authorization = "tok-123" })

	tests := []struct {
		name    string
		cfg     func(c *bus.Config)
		wantErr string
	}{
		{"user and password", func(c *bus.Config) { c.URL, c.User, c.Password = userURL, "tap", "s3cret" }, ""},
		{"wrong password", func(c *bus.Config) { c.URL, c.User, c.Password = userURL, "tap", "nope" }, "authorization"},
		{"token", func(c *bus.Config) { c.URL, c.Token = tokenURL, "tok-123" }, ""},
		{"no credentials", func(c *bus.Config) { c.URL = tokenURL }, "authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bus.Default()
			tt.cfg(&cfg)
			require.NoError(t, cfg.Validate())
			timeout := 30 * time.Second
			if tt.wantErr != "" {
				timeout = time.Second // the connection retries until ctx ends
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			nc, js, err := bus.Connect(ctx, cfg, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, strings.ToLower(err.Error()), tt.wantErr)
				assert.NotContains(t, err.Error(), "nope")
				return
			}
			require.NoError(t, err)
			defer nc.Close()
			_, res, err := bus.EnsureStream(ctx, js, cfg)
			require.NoError(t, err)
			assert.Equal(t, bus.StreamCreated, res)
		})
	}
}

func TestConnectWaitsForServer(t *testing.T) {
	// Reserve a port, start the client first, then the server on that port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cfg := bus.Default()
	cfg.Embedded.Listen = addr
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		nc, _, err := bus.Connect(ctx, cfg, nil)
		done <- result{nc, err}
	}()
	e, err := bus.StartEmbedded(testCtx(t), cfg, t.TempDir(), nil)
	require.NoError(t, err)
	defer e.Shutdown(context.Background())
	r := <-done
	require.NoError(t, r.err)
	assert.True(t, r.nc.IsConnected())
	r.nc.Close()
}
