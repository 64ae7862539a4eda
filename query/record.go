package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// AccessRecord is one call of the API, recorded as an access event with
// source "api".
type AccessRecord struct {
	Time     time.Time
	Duration time.Duration
	// ServiceName and Node name this API server.
	ServiceName, Node string
	RequestID         string
	TraceID, SpanID   string
	// Method and Path are the HTTP method and path for REST calls; for gRPC
	// calls Method is "POST" and Path the full gRPC method.
	Method, Path, Query string
	// Route is the full gRPC method in both cases.
	Route string
	// Protocol is "grpc" or the HTTP version of a REST call ("1.1", "2").
	Protocol      string
	Status        int // HTTP status (REST) or the HTTP status of the gRPC code
	GRPCCode      int
	ClientAddress string
	ClientPort    int
	UserAgent     string
	// TLS of the connection, when the listener serves TLS.
	TLSVersion, TLSCipher string
	MTLSVerified          bool
	PeerSubject           string
	Caller                Caller
	Decision, Reason      string
}

// Recorder takes the API's access records. Record must not block the
// request: implementations buffer.
type Recorder interface {
	Record(AccessRecord)
}

// RecordSink writes a batch of access records somewhere durable.
type RecordSink func(ctx context.Context, recs []AccessRecord) error

// BatchRecorder buffers access records and hands them to a sink in batches,
// at most every FlushInterval. When the buffer is full, records are dropped
// and counted: the API keeps answering when the sink is down.
type BatchRecorder struct {
	sink     RecordSink
	logger   *slog.Logger
	interval time.Duration
	size     int

	mu      sync.Mutex
	buf     []AccessRecord
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	stop    chan struct{}
	dropped atomic.Uint64
}

// BatchRecorderOptions tune a BatchRecorder; zero values take defaults
// (1 s, 512 records per batch, 8192 buffered).
type BatchRecorderOptions struct {
	FlushInterval time.Duration
	BatchSize     int
	BufferSize    int
	Logger        *slog.Logger
}

// NewBatchRecorder starts a recorder that writes to sink. Close flushes and
// stops it.
func NewBatchRecorder(sink RecordSink, o BatchRecorderOptions) *BatchRecorder {
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.BufferSize < o.BatchSize {
		o.BufferSize = max(8192, o.BatchSize)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b := &BatchRecorder{
		sink: sink, logger: o.Logger, interval: o.FlushInterval, size: o.BatchSize,
		buf:  make([]AccessRecord, 0, o.BufferSize),
		kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{}),
	}
	go b.run()
	return b
}

// Record implements Recorder.
func (b *BatchRecorder) Record(r AccessRecord) {
	b.mu.Lock()
	if b.closed || len(b.buf) >= cap(b.buf) {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.buf = append(b.buf, r)
	full := len(b.buf) >= b.size
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped is the number of records dropped because the buffer was full or
// the recorder closed.
func (b *BatchRecorder) Dropped() uint64 { return b.dropped.Load() }

func (b *BatchRecorder) run() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*b.interval+10*time.Second)
		_ = b.flush(ctx)
		cancel()
	}
}

// Flush writes what is buffered now.
func (b *BatchRecorder) Flush(ctx context.Context) error { return b.flush(ctx) }

func (b *BatchRecorder) flush(ctx context.Context) error {
	b.mu.Lock()
	recs := b.buf
	b.buf = make([]AccessRecord, 0, cap(recs))
	b.mu.Unlock()
	var errs []error
	for len(recs) > 0 {
		n := min(len(recs), b.size)
		if err := b.sink(ctx, recs[:n]); err != nil {
			b.dropped.Add(uint64(n))
			b.logger.WarnContext(ctx, "recording API access events failed", "records", n, "err", err)
			errs = append(errs, err)
		}
		recs = recs[n:]
	}
	return errors.Join(errs...)
}

// Close flushes the buffer and stops the recorder. Safe to call twice.
func (b *BatchRecorder) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.flush(ctx)
}

// EngineSink inserts access records straight into access_events. It serves
// deployments without a bus (the query API against a ClickHouse server) and
// the tests; the all-in-one binary publishes through LogsSink instead, so
// that API events pass through ingest and its ledger like every other event.
func EngineSink(eng store.Engine) RecordSink {
	return func(ctx context.Context, recs []AccessRecord) error {
		rows := make([]otlprow.Access, len(recs))
		for i, r := range recs {
			rows[i] = accessRow(r)
		}
		b, err := eng.PrepareBatch(ctx, otlprow.TableAccess, otlprow.AccessColumns())
		if err != nil {
			return fmt.Errorf("prepare access_events batch: %w", err)
		}
		var vals []any
		for i := range rows {
			vals = rows[i].AppendValues(vals[:0])
			if err := b.Append(vals...); err != nil {
				b.Abort()
				return fmt.Errorf("append access event: %w", err)
			}
		}
		if err := b.Send(ctx); err != nil {
			return fmt.Errorf("insert access events: %w", err)
		}
		// Like every writer of access_events, the sink writes its copy by
		// id too (package byid), which timelines read.
		return byid.Insert(ctx, eng, byid.Events, rows)
	}
}

// accessRow is the access_events row of an API call.
func accessRow(r AccessRecord) otlprow.Access {
	return otlprow.Access{
		Timestamp: r.Time.UTC(), Duration: uint64(max(r.Duration, 0)), Source: event.SourceAPI,
		ServiceName: r.ServiceName, Node: r.Node, RequestID: r.RequestID, TraceID: r.TraceID, SpanID: r.SpanID,
		Method: r.Method, Path: r.Path, Query: r.Query, Route: r.Route, Protocol: r.Protocol,
		Status: uint16(r.Status), ClientAddress: r.ClientAddress, ClientPort: uint16(r.ClientPort), UserAgent: r.UserAgent,
		TLSVersion: r.TLSVersion, TLSCipher: r.TLSCipher, MTLSVerified: r.MTLSVerified, PeerSubject: r.PeerSubject,
		PeerNotAfter: time.Unix(0, 0).UTC(), // unknown
		Principal:    r.Caller.Principal, PrincipalType: r.Caller.PrincipalType,
		JWTIssuer: r.Caller.JWTIssuer, JWTSubject: r.Caller.JWTSubject, JWTAudience: joinComma(r.Caller.JWTAudience),
		JWTScopes: nonNil(r.Caller.Scopes), Decision: r.Decision, Policy: apiPolicy, Reason: r.Reason,
		Attributes: recordAttributes(r),
	}
}

// apiPolicy names the policy that decided API calls.
const apiPolicy = "query.auth"

// Attribute keys of API access records that have no column of their own.
const (
	attrRole     = "tapline.role"
	attrGRPCCode = "rpc.grpc.status_code"
	attrRPC      = "rpc.method"
)

func recordAttributes(r AccessRecord) map[string]string {
	m := map[string]string{attrGRPCCode: strconv.Itoa(r.GRPCCode), attrRPC: r.Route}
	if r.Caller.Role != "" {
		m[attrRole] = r.Caller.Role
	}
	return m
}

func joinComma(s []string) string { return strings.Join(s, ",") }

// LogsSink publishes access records as tapline.access OTLP log records, the
// form every other producer uses, through publish (the binary publishes to
// the bus's events subject).
func LogsSink(publish func(ctx context.Context, ld plog.Logs) error) RecordSink {
	return func(ctx context.Context, recs []AccessRecord) error {
		return publish(ctx, AccessRecordsToLogs(recs))
	}
}

// AccessRecordsToLogs converts access records into OTLP logs: one resource
// per service and node, one tapline.access record per call.
func AccessRecordsToLogs(recs []AccessRecord) plog.Logs {
	ld := plog.NewLogs()
	type resKey struct{ service, node string }
	scopes := map[resKey]plog.LogRecordSlice{}
	for _, r := range recs {
		k := resKey{r.ServiceName, r.Node}
		lrs, ok := scopes[k]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(event.AttrServiceName, r.ServiceName)
			if r.Node != "" {
				rl.Resource().Attributes().PutStr(event.AttrNode, r.Node)
			}
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName("github.com/tapline/tapline/query")
			lrs = sl.LogRecords()
			scopes[k] = lrs
		}
		lr := lrs.AppendEmpty()
		lr.SetEventName(event.AccessEvent)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(r.Time))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(r.Time.Add(r.Duration)))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		if r.TraceID != "" {
			if tid, ok := parseTraceID(r.TraceID); ok {
				lr.SetTraceID(tid)
			}
		}
		a := lr.Attributes()
		a.PutStr(event.AttrSource, event.SourceAPI)
		a.PutInt(event.AttrDurationNanos, int64(r.Duration))
		put := func(k, v string) {
			if v != "" {
				a.PutStr(k, v)
			}
		}
		put(event.AttrRequestID, r.RequestID)
		put(event.AttrHTTPMethod, r.Method)
		put(event.AttrURLPath, r.Path)
		put(event.AttrURLQuery, r.Query)
		put(event.AttrHTTPRoute, r.Route)
		put(event.AttrNetworkProtocol, r.Protocol)
		a.PutInt(event.AttrHTTPStatus, int64(r.Status))
		put(event.AttrClientAddress, r.ClientAddress)
		if r.ClientPort > 0 {
			a.PutInt(event.AttrClientPort, int64(r.ClientPort))
		}
		put(event.AttrUserAgent, r.UserAgent)
		put(event.AttrTLSProtocolVersion, r.TLSVersion)
		put(event.AttrTLSCipher, r.TLSCipher)
		if r.TLSVersion != "" {
			a.PutBool(event.AttrMTLSVerified, r.MTLSVerified)
		}
		put(event.AttrTLSClientSubject, r.PeerSubject)
		put(event.AttrPrincipal, r.Caller.Principal)
		put(event.AttrEnduserID, r.Caller.Principal)
		put(event.AttrPrincipalType, r.Caller.PrincipalType)
		put(event.AttrJWTIssuer, r.Caller.JWTIssuer)
		put(event.AttrJWTSubject, r.Caller.JWTSubject)
		put(event.AttrJWTAudience, joinComma(r.Caller.JWTAudience))
		if len(r.Caller.Scopes) > 0 {
			s := a.PutEmptySlice(event.AttrUserRoles)
			for _, sc := range r.Caller.Scopes {
				s.AppendEmpty().SetStr(sc)
			}
		}
		put(event.AttrDecision, r.Decision)
		put(event.AttrPolicy, apiPolicy)
		put(event.AttrReason, r.Reason)
		for k, v := range recordAttributes(r) {
			a.PutStr(k, v)
		}
	}
	return ld
}

func parseTraceID(s string) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	if len(s) != 32 {
		return id, false
	}
	for i := range 16 {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return id, false
		}
		id[i] = byte(v)
	}
	return id, true
}
