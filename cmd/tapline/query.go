package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/query"
)

// queryCommand is `tapline query`: the query API on its own.
func (a *app) queryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Serve the query API: REST under /api/v1 on the HTTP port, gRPC on query.grpc.listen",
		Long: `Serve the query API over the configured storage engine.

REST/JSON (and the OpenAPI document at /api/v1/openapi.json) is served on the
HTTP listener (http.addr, default 127.0.0.1:8080), gRPC on query.grpc.listen
(default 127.0.0.1:8081). Callers authenticate with the API tokens of
query.auth.tokens or OIDC access tokens (query.auth.oidc).

With an external NATS (bus.url), each API call is published as an access
event (source api) and the ingest lag is read from the stream; without one,
API access events are written to the store directly.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("query")
			if err != nil {
				return err
			}
			p, err := a.newProcess("tapline query", cfg)
			if err != nil {
				return err
			}
			if !cfg.Bus.IsEmbedded() {
				p.addBus()
			}
			p.addStore()
			p.addUI(p.addQuery(), a.version)
			return p.svc.Run(cmd.Context())
		},
	}
	return cmd
}

// addQuery adds the query API after the store (and the bus, when the
// process has one) and mounts its REST handler under /api/v1/ on the main
// listener.
func (p *process) addQuery() *queryAPI {
	q := &queryAPI{cfg: p.cfg.Query, store: p.store, bus: p.bus, logger: p.logger}
	p.svc.Add("query", q)
	p.svc.Handle(query.PathPrefix, q)
	return q
}

// queryAPI is the query server as a component: Start builds it on the
// started store (and bus) and serves; until then, and after Shutdown, the
// REST handler answers 503.
type queryAPI struct {
	cfg    query.Config
	store  *storage
	bus    *bus.Bus // nil: no bus in this process
	logger *slog.Logger

	run started[queryRun]
}

// queryRun is what queryAPI.Start built.
type queryRun struct {
	srv     *query.Server
	handler http.Handler
	rec     *query.BatchRecorder // nil without a bus
}

// server is the started query server, or nil.
func (q *queryAPI) server() *query.Server {
	if r := q.run.get(); r != nil {
		return r.srv
	}
	return nil
}

func (q *queryAPI) Start(ctx context.Context) error {
	eng := q.store.Engine()
	if eng == nil {
		return errors.New("query: the store has not started")
	}
	opts := query.Options{Logger: q.logger}
	var rec *query.BatchRecorder
	if q.bus != nil {
		if js := q.bus.JetStream(); js != nil {
			opts.Lag = query.JetStreamLag{JS: js, Stream: bus.StreamName}
			rec = query.NewBatchRecorder(query.LogsSink(func(ctx context.Context, ld plog.Logs) error {
				return publishEvents(ctx, q.bus, ld)
			}), query.BatchRecorderOptions{Logger: q.logger})
			opts.Recorder = rec
		}
	}
	srv, err := query.New(q.cfg, eng, opts)
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		if rec != nil {
			err = errors.Join(err, rec.Close(ctx))
		}
		return err
	}
	q.run.set(&queryRun{srv: srv, handler: srv.Handler(), rec: rec})
	return nil
}

func (q *queryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var h http.Handler
	if run := q.run.get(); run != nil {
		h = run.handler
	}
	serveWhileRunning(w, r, h, "query API")
}

func (q *queryAPI) Shutdown(ctx context.Context) error {
	run := q.run.take()
	if run == nil {
		return nil
	}
	err := run.srv.Shutdown(ctx)
	if run.rec != nil {
		err = errors.Join(err, run.rec.Close(ctx))
	}
	return err
}

// publishEvents publishes API access events on the events subject as OTLP
// protobuf, with a content-derived message id so that a retried publish is
// stored once.
func publishEvents(ctx context.Context, b *bus.Bus, ld plog.Logs) error {
	js := b.JetStream()
	if js == nil {
		return errors.New("bus not connected")
	}
	data, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		return fmt.Errorf("marshal API access events: %w", err)
	}
	sum := sha256.Sum256(data)
	msg := nats.NewMsg(bus.SubjectEvents)
	msg.Data = data
	msg.Header.Set(bus.HeaderMsgID, "api-"+hex.EncodeToString(sum[:16]))
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish API access events: %w", err)
	}
	return nil
}
