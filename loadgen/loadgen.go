package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// exportMethod is the OTLP/gRPC trace export method.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Config says where to send and how much.
type Config struct {
	// Endpoint is the OTLP/gRPC receiver's host:port (plaintext).
	Endpoint string
	// Workers is the number of concurrent requests, each on its own
	// connection. Default 4.
	Workers int
	// SpansPerRequest is the number of spans in one export request.
	// Default 512 (the OTel SDKs' batch span processor's batch).
	SpansPerRequest int
	// Rate is the target in spans per second over all workers; 0 sends as
	// fast as the receiver answers.
	Rate float64
	// Service is the spans' service.name. Default "loadgen".
	Service string
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = 4
	}
	if c.SpansPerRequest == 0 {
		c.SpansPerRequest = 512
	}
	if c.Service == "" {
		c.Service = "loadgen"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// Result counts what a run sent.
type Result struct {
	// AcceptedSpans and FailedSpans count the spans of requests that got a
	// success response, and of those that did not.
	AcceptedSpans, FailedSpans int64
	// Requests counts the requests sent; Failures those that failed.
	Requests, Failures int64
	// Elapsed is the time from the first request to the last response.
	Elapsed time.Duration
	// FirstError is the first failure's error, nil if none failed.
	FirstError error
}

// AcceptedRate is the accepted spans per second of Elapsed.
func (r Result) AcceptedRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.AcceptedSpans) / r.Elapsed.Seconds()
}

// Generator sends load as configured. Run may be called more than once;
// trace ids stay unique across runs of one Generator.
type Generator struct {
	cfg      Config
	template []byte
	idAt     []int // offsets of the 8 rewritable bytes of each trace id
	conns    []*grpc.ClientConn
	next     atomic.Uint64 // request counter, part of every trace id
}

// New prepares a generator and its connections (dialled lazily by gRPC).
func New(cfg Config) (*Generator, error) {
	cfg = cfg.withDefaults()
	if cfg.Endpoint == "" {
		return nil, errors.New("loadgen: Endpoint is required")
	}
	if cfg.Workers < 1 || cfg.SpansPerRequest < 1 || cfg.SpansPerRequest > 1<<16 || cfg.Rate < 0 {
		return nil, fmt.Errorf("loadgen: invalid config: workers %d, spans per request %d, rate %g",
			cfg.Workers, cfg.SpansPerRequest, cfg.Rate)
	}
	template, idAt, err := buildTemplate(cfg.Service, cfg.SpansPerRequest)
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, template: template, idAt: idAt}
	for range cfg.Workers {
		conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("loadgen: %w", err), g.Close())
		}
		g.conns = append(g.conns, conn)
	}
	return g, nil
}

// RequestBytes is the size of one export request.
func (g *Generator) RequestBytes() int { return len(g.template) }

// Close closes the connections.
func (g *Generator) Close() error {
	var errs []error
	for _, c := range g.conns {
		errs = append(errs, c.Close())
	}
	g.conns = nil
	return errors.Join(errs...)
}

// Run sends load for duration d, or until ctx ends, and returns the counts.
func (g *Generator) Run(ctx context.Context, d time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		accepted, failed, requests, failures atomic.Int64
		firstErr                             error
		errOnce                              sync.Once
		wg                                   sync.WaitGroup
	)
	// With a rate, request k of worker w is due at start + (k*workers+w)
	// intervals; a worker that falls behind sends at once.
	var interval time.Duration
	if g.cfg.Rate > 0 {
		interval = time.Duration(float64(g.cfg.SpansPerRequest) / g.cfg.Rate * float64(time.Second))
	}
	start := time.Now()
	for w, conn := range g.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Clone(g.template)
			var out []byte
			for k := 0; ; k++ {
				if interval > 0 {
					due := start.Add(time.Duration(k*len(g.conns)+w) * interval)
					if wait := time.Until(due); wait > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(wait):
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
				g.stamp(body)
				rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.Timeout)
				err := conn.Invoke(rctx, exportMethod, &body, &out, grpc.ForceCodec(rawCodec{}))
				rcancel()
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					failed.Add(int64(g.cfg.SpansPerRequest))
					errOnce.Do(func() { firstErr = err })
					continue
				}
				accepted.Add(int64(g.cfg.SpansPerRequest))
			}
		}()
	}
	wg.Wait()
	return Result{
		AcceptedSpans: accepted.Load(), FailedSpans: failed.Load(),
		Requests: requests.Load(), Failures: failures.Load(),
		Elapsed: time.Since(start), FirstError: firstErr,
	}
}

// stamp gives body's spans trace ids no other request has.
func (g *Generator) stamp(body []byte) {
	n := g.next.Add(1)
	for _, at := range g.idAt {
		binary.BigEndian.PutUint64(body[at:at+8], n)
	}
}

// idMarker starts every template trace id; the 8 bytes after it are
// rewritten per request, the last 4 number the span in the request.
var idMarker = []byte{0x7a, 0x9e, 0x11, 0xd0}

// buildTemplate encodes one request of n spans and finds its trace ids.
func buildTemplate(service string, n int) ([]byte, []int, error) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", service)
	res.PutStr("service.version", "1.4.2")
	res.PutStr("deployment.environment.name", "bench")
	res.PutStr("host.name", "node-1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("loadgen")
	now := time.Now()
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		var tid [16]byte
		copy(tid[:], idMarker)
		binary.BigEndian.PutUint32(tid[12:], uint32(i))
		sp.SetTraceID(tid)
		sp.SetSpanID([8]byte{0x5e, byte(i >> 8), byte(i), 4, 5, 6, 7, 8})
		sp.SetName("GET /api/orders/{id}")
		sp.SetKind(ptrace.SpanKindServer)
		st := now.Add(time.Duration(i) * time.Microsecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(3 * time.Millisecond)))
		a := sp.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/orders/{id}")
		a.PutStr("url.path", "/api/orders/"+strconv.Itoa(100000+i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("client.address", "10.1.2."+strconv.Itoa(i%250))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		a.PutStr("tapline.request_id", fmt.Sprintf("%032x", i))
		a.PutStr("server.address", "orders.internal")
		a.PutInt("server.port", 8443)
		a.PutStr("network.protocol.version", "2")
		for e, name := range []string{"db.query", "cache.miss"} {
			ev := sp.Events().AppendEmpty()
			ev.SetName(name)
			ev.SetTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Duration(e+1) * time.Millisecond)))
			ev.Attributes().PutStr("db.system", "postgresql")
			ev.Attributes().PutInt("rows", int64(i%7))
		}
	}
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return nil, nil, fmt.Errorf("loadgen: encode template: %w", err)
	}
	var idAt []int
	for off := 0; ; {
		i := bytes.Index(raw[off:], idMarker)
		if i < 0 {
			break
		}
		idAt = append(idAt, off+i+len(idMarker))
		off += i + len(idMarker)
	}
	if len(idAt) != n {
		return nil, nil, fmt.Errorf("loadgen: found %d trace ids in the template, want %d", len(idAt), n)
	}
	return raw, idAt, nil
}

// rawCodec sends prepared bytes as the request and keeps the response's
// bytes undecoded.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
