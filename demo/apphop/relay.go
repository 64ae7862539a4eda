package apphop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tapline/tapline/demo/telemetry"
	"github.com/tapline/tapline/event"
)

// scope is the instrumentation scope of what the relay sends.
const scope = "github.com/tapline/tapline/demo/apphop"

// Hop is one request as the application saw it: a "hop" line.
type Hop struct {
	Msg           string `json:"msg"`
	StartNanos    int64  `json:"start_ns"`
	DurationNanos int64  `json:"duration_ns"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Query         string `json:"query"`
	Status        int    `json:"status"`
	RequestID     string `json:"request_id"`
	Traceparent   string `json:"traceparent"`
	Principal     string `json:"principal"`
	PrincipalType string `json:"principal_type"`
	UserAgent     string `json:"user_agent"`
}

// Relay turns hop lines into the application's span and access event.
type Relay struct {
	// Skip, if set, leaves out hops it returns true for (health checks).
	Skip func(Hop) bool

	p      *telemetry.Providers
	tracer trace.Tracer
	logger otellog.Logger
	node   string
}

// New makes a relay that sends through p; node is recorded as tapline.node.
func New(p *telemetry.Providers, node string) *Relay {
	return &Relay{p: p, tracer: p.Traces.Tracer(scope), logger: p.Logs.Logger(scope), node: node}
}

// Consume reads lines from r until it ends or ctx is done. Hop lines are
// sent as the hop; every other line is the application's own log: sent as
// a log record and written to other (if not nil).
func (r *Relay) Consume(ctx context.Context, rd io.Reader, other io.Writer) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		var h Hop
		if json.Unmarshal(line, &h) != nil || h.Msg != "hop" {
			if other != nil {
				_, _ = fmt.Fprintf(other, "%s\n", line)
			}
			r.sendLog(ctx, line)
			continue
		}
		if r.Skip != nil && r.Skip(h) {
			continue
		}
		r.Send(ctx, h)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("application output: %w", err)
	}
	return nil
}

// Send records one hop: a server span whose parent is the traceparent the
// application received, and the access event in the span's context.
func (r *Relay) Send(ctx context.Context, h Hop) {
	start := time.Unix(0, h.StartNanos)
	end := start.Add(time.Duration(h.DurationNanos))
	parent := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": h.Traceparent})
	name := h.Method + " " + h.Path
	_, span := r.tracer.Start(parent, name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String(event.AttrHTTPMethod, h.Method),
			attribute.String(event.AttrURLPath, h.Path),
			attribute.Int(event.AttrHTTPStatus, h.Status),
			attribute.String(event.AttrRequestID, h.RequestID),
		))
	if h.Status >= 500 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(h.Status))
	}
	span.End(trace.WithTimestamp(end))

	var rec otellog.Record
	rec.SetEventName(event.AccessEvent)
	rec.SetTimestamp(start)
	rec.SetObservedTimestamp(end)
	rec.SetSeverity(otellog.SeverityInfo)
	attrs := []attribute.KeyValue{
		attribute.String(event.AttrSource, event.SourceApp),
		attribute.String(event.AttrNode, r.node),
		attribute.String(event.AttrRequestID, h.RequestID),
		attribute.String(event.AttrHTTPMethod, h.Method),
		attribute.String(event.AttrURLPath, h.Path),
		attribute.Int(event.AttrHTTPStatus, h.Status),
		attribute.Int64(event.AttrDurationNanos, h.DurationNanos),
	}
	if h.Query != "" {
		attrs = append(attrs, attribute.String(event.AttrURLQuery, h.Query))
	}
	if h.UserAgent != "" {
		attrs = append(attrs, attribute.String(event.AttrUserAgent, h.UserAgent))
	}
	if h.Principal != "" {
		attrs = append(attrs, attribute.String(event.AttrPrincipal, h.Principal), attribute.String(event.AttrEnduserID, h.Principal))
	}
	if t := strings.TrimSpace(h.PrincipalType); t != "" {
		attrs = append(attrs, attribute.String(event.AttrPrincipalType, t))
	}
	rec.AddAttributes(attrs...)
	r.logger.Emit(trace.ContextWithSpan(ctx, span), rec)
}

// appLine is what the application logs besides hops: the request and trace
// ids it saw.
type appLine struct {
	RequestID string `json:"request_id"`
	TraceID   string `json:"trace_id"`
}

// sendLog sends one line of the application's own log as a log record,
// with the request and trace ids it names as attributes (the line has no
// span id, so the record cannot carry the trace context itself).
func (r *Relay) sendLog(ctx context.Context, line []byte) {
	if len(line) == 0 {
		return
	}
	var rec otellog.Record
	now := time.Now()
	rec.SetTimestamp(now)
	rec.SetObservedTimestamp(now)
	rec.SetSeverity(otellog.SeverityInfo)
	rec.SetSeverityText("INFO")
	rec.SetBody(attribute.StringValue(string(line)))
	attrs := []attribute.KeyValue{attribute.String(event.AttrNode, r.node)}
	var l appLine
	if json.Unmarshal(line, &l) == nil {
		if l.RequestID != "" {
			attrs = append(attrs, attribute.String(event.AttrRequestID, l.RequestID))
		}
		if l.TraceID != "" {
			attrs = append(attrs, attribute.String(event.AttrTraceID, l.TraceID))
		}
	}
	rec.AddAttributes(attrs...)
	r.logger.Emit(ctx, rec)
}
