package service_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/service"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder logs starts and stops of named components into one list.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) component(name string, startErr error) service.Component {
	return service.Funcs{
		StartFunc: func(context.Context) error {
			r.add("start " + name)
			return startErr
		},
		ShutdownFunc: func(context.Context) error {
			r.add("stop " + name)
			return nil
		},
	}
}

func newService() *service.Service {
	return service.New(service.Settings{HTTPAddr: "127.0.0.1:0", Version: "1.2.3", Commit: "abc"})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // test
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestStartOrderAndReverseShutdown(t *testing.T) {
	ctx := context.Background()
	for range 2 { // a new service each round: start and stop twice
		var rec recorder
		s := newService()
		for _, n := range []string{"bus", "store", "ingest"} {
			s.Add(n, rec.component(n, nil))
		}
		require.NoError(t, s.Shutdown(ctx), "shutdown before start")
		require.NoError(t, s.Start(ctx))
		assert.Equal(t, service.Ready, s.State())
		require.Error(t, s.Start(ctx), "second start")
		require.NoError(t, s.Shutdown(ctx))
		require.NoError(t, s.Shutdown(ctx), "second shutdown")
		assert.Equal(t, service.Stopping, s.State())
		assert.Equal(t, []string{
			"start bus", "start store", "start ingest",
			"stop ingest", "stop store", "stop bus",
		}, rec.list())
	}
}

func TestFailedStartIsUndone(t *testing.T) {
	var rec recorder
	s := newService()
	s.Add("bus", rec.component("bus", nil))
	s.Add("store", rec.component("store", nil))
	s.Add("ingest", rec.component("ingest", errors.New("boom")))
	s.Add("query", rec.component("query", nil))

	err := s.Start(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start ingest: boom")
	assert.Equal(t, []string{
		"start bus", "start store", "start ingest",
		"stop store", "stop bus",
	}, rec.list())
	assert.Equal(t, service.Stopping, s.State())
}

func TestFailedStartClosesListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	s := service.New(service.Settings{HTTPAddr: addr})
	s.Add("broken", service.Funcs{StartFunc: func(context.Context) error { return errors.New("no") }})
	require.Error(t, s.Start(context.Background()))

	// The port is free again.
	l, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var rec recorder
	s := service.New(service.Settings{HTTPAddr: l.Addr().String()})
	s.Add("bus", rec.component("bus", nil))
	err = s.Start(context.Background())
	require.ErrorContains(t, err, "http.addr: ")
	assert.Empty(t, rec.list(), "no component starts without the listener")
}

func TestReadinessAndGatedHandlers(t *testing.T) {
	release := make(chan struct{})
	stopping := make(chan struct{})
	finishStop := make(chan struct{})
	s := newService()
	s.Add("slow", service.Funcs{
		StartFunc: func(ctx context.Context) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		ShutdownFunc: func(context.Context) error {
			close(stopping)
			<-finishStop
			return nil
		},
	})
	s.Handle("GET /api/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	diskFull := errors.New("disk full")
	var checkErr error
	var checkMu sync.Mutex
	s.AddCheck("disk", func(context.Context) error {
		checkMu.Lock()
		defer checkMu.Unlock()
		return checkErr
	})

	started := make(chan error, 1)
	go func() { started <- s.Start(context.Background()) }()
	require.Eventually(t, func() bool { return s.HTTPAddr() != "" }, 10*time.Second, 5*time.Millisecond)
	base := "http://" + s.HTTPAddr()

	code, body := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "not ready\n", body)
	code, _ = get(t, base+"/api/hello")
	assert.Equal(t, http.StatusServiceUnavailable, code)

	close(release)
	require.NoError(t, <-started)
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ready\n", body)
	code, body = get(t, base+"/api/hello")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello", body)

	checkMu.Lock()
	checkErr = diskFull
	checkMu.Unlock()
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "disk: disk full")

	stopped := make(chan error, 1)
	go func() { stopped <- s.Shutdown(context.Background()) }()
	<-stopping
	code, body = get(t, base+"/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "stopping\n", body)
	code, _ = get(t, base+"/api/hello")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	close(finishStop)
	require.NoError(t, <-stopped)
}

func TestMetricsFromTheProcessRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := service.New(service.Settings{HTTPAddr: "127.0.0.1:0", Registry: reg, Version: "1.2.3", Commit: "abc"})
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "tapline_test_requests_total", Help: "test"})
	s.Add("counter", service.Funcs{StartFunc: func(context.Context) error {
		s.Registry().MustRegister(requests)
		requests.Add(3)
		return nil
	}})
	require.NoError(t, s.Start(context.Background()))
	defer s.Shutdown(context.Background())

	code, body := get(t, "http://"+s.HTTPAddr()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "tapline_test_requests_total 3")
	assert.Contains(t, body, `tapline_build_info{commit="abc",version="1.2.3"} 1`)
	assert.Contains(t, body, "tapline_ready 1")
	assert.NotContains(t, body, "go_goroutines", "a registry passed in gets only what is registered on it")
}

func TestRun(t *testing.T) {
	t.Run("stops cleanly when ctx ends", func(t *testing.T) {
		var rec recorder
		s := newService()
		s.Add("a", rec.component("a", nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		require.Eventually(t, func() bool { return s.State() == service.Ready }, 10*time.Second, 5*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, []string{"start a", "stop a"}, rec.list())
	})
	t.Run("an interrupted start is a clean stop", func(t *testing.T) {
		var rec recorder
		s := newService()
		ctx, cancel := context.WithCancel(context.Background())
		s.Add("a", rec.component("a", nil))
		s.Add("slow", service.Funcs{StartFunc: func(ctx context.Context) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}})
		s.Add("never", rec.component("never", nil))
		require.NoError(t, s.Run(ctx))
		assert.Equal(t, []string{"start a", "stop a"}, rec.list())
	})
	t.Run("a failed start is an error", func(t *testing.T) {
		s := newService()
		s.Add("broken", service.Funcs{StartFunc: func(context.Context) error { return errors.New("no disk") }})
		require.ErrorContains(t, s.Run(context.Background()), "start broken: no disk")
	})
	t.Run("returns a fatal error after shutting down", func(t *testing.T) {
		var rec recorder
		s := newService()
		s.Add("a", rec.component("a", nil))
		s.Add("b", service.Funcs{StartFunc: func(context.Context) error {
			go s.ReportFatal(errors.New("consumer lost"))
			return nil
		}})
		err := s.Run(context.Background())
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "consumer lost"))
		assert.Equal(t, []string{"start a", "stop a"}, rec.list())
	})
}

func TestLazyBuildsAfterEarlierComponents(t *testing.T) {
	var rec recorder
	var value string
	s := newService()
	s.Add("provider", service.Funcs{StartFunc: func(context.Context) error {
		value = "engine"
		return nil
	}})
	s.Add("consumer", service.Lazy(func(context.Context) (service.Component, error) {
		rec.add("build with " + value)
		return rec.component("consumer", nil), nil
	}))
	s.Add("broken", service.Lazy(func(context.Context) (service.Component, error) {
		return nil, errors.New("bad settings")
	}))
	err := s.Start(context.Background())
	require.ErrorContains(t, err, "start broken: bad settings")
	assert.Equal(t, []string{"build with engine", "start consumer", "stop consumer"}, rec.list())

	// Shutdown of a lazy component that was never built does nothing.
	require.NoError(t, service.Lazy(func(context.Context) (service.Component, error) {
		t.Fatal("not built on shutdown")
		return nil, nil
	}).Shutdown(context.Background()))
}

func TestHandleFromAComponentStart(t *testing.T) {
	s := newService()
	s.Add("api", service.Lazy(func(context.Context) (service.Component, error) {
		s.Handle("GET /api/v1/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("pong"))
		}))
		return service.Funcs{}, nil
	}))
	require.NoError(t, s.Start(context.Background()))
	defer s.Shutdown(context.Background())
	code, body := get(t, "http://"+s.HTTPAddr()+"/api/v1/ping")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "pong", body)
}
