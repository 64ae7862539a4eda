// Package natsexportertest runs an embedded NATS JetStream server for tests of
// the NATS exporter and of pipelines that end in it, and reads back what was
// stored. It must not be imported by non-test code.
package natsexportertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/bus"
)

// Options tune the embedded server.
type Options struct {
	// MaxPayload is the server's max_payload in bytes; 0 keeps the default (1 MiB).
	MaxPayload int32
	// Token, when set, is required from clients.
	Token string
}

// Server is an embedded NATS server with JetStream on a random loopback port,
// storing into a test temporary directory. It can be stopped and started
// again on the same port and storage to simulate an outage.
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	port int
	srv  *server.Server
}

// RunServer starts a server; it is shut down when the test ends.
func RunServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts, dir: t.TempDir(), port: -1}
	s.Start()
	t.Cleanup(s.Shutdown)
	return s
}

// URL is the client URL of the server.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Start starts the server (again) on its port and storage.
func (s *Server) Start() {
	s.t.Helper()
	o := &server.Options{
		Host:       "127.0.0.1",
		Port:       s.port,
		JetStream:  true,
		StoreDir:   s.dir,
		MaxPayload: s.opts.MaxPayload,
		NoLog:      true,
		NoSigs:     true,
	}
	if s.opts.Token != "" {
		o.Authorization = s.opts.Token
	}
	srv, err := server.NewServer(o)
	if err != nil {
		s.t.Fatalf("create nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("nats server not ready")
	}
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
}

// Shutdown stops the server; safe to call twice.
func (s *Server) Shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Connect returns a client connection closed when the test ends.
func (s *Server) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js, err := s.dial()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

func (s *Server) dial() (*nats.Conn, jetstream.JetStream, error) {
	var opts []nats.Option
	if s.opts.Token != "" {
		opts = append(opts, nats.Token(s.opts.Token))
	}
	return dial(s.URL(), opts...)
}

func dial(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// CreateStream creates Tapline's stream with its subjects and a duplicate
// window of two minutes, as the bus does.
func (s *Server) CreateStream(t testing.TB) {
	t.Helper()
	_, js := s.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       bus.StreamName,
		Subjects:   []string{bus.SubjectTraces, bus.SubjectLogs, bus.SubjectEvents, bus.SubjectDLQ},
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
}

// Messages returns every message stored in Tapline's stream on subject, in
// stream order.
func (s *Server) Messages(t testing.TB, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	msgs, err := s.messages(subject)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return msgs
}

func (s *Server) messages(subject string) ([]*jetstream.RawStreamMsg, error) {
	nc, js, err := s.dial()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return readStream(js, subject)
}

// CountSpansAt is Server.CountSpans for any NATS server at url holding
// Tapline's stream (an embedded bus of a tapline process, for example).
func CountSpansAt(t testing.TB, url, subject string) (messages, spans int) {
	t.Helper()
	nc, js, err := dial(url)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer nc.Close()
	msgs, err := readStream(js, subject)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return countSpans(t, subject, msgs)
}

func readStream(js jetstream.JetStream, subject string) ([]*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get message %d: %w", seq, err)
		}
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out, nil
}

// CountSpans decodes every message on subject as an ExportTraceServiceRequest
// and returns the messages and spans stored.
func (s *Server) CountSpans(t testing.TB, subject string) (messages, spans int) {
	t.Helper()
	return countSpans(t, subject, s.Messages(t, subject))
}

func countSpans(t testing.TB, subject string, msgs []*jetstream.RawStreamMsg) (messages, spans int) {
	t.Helper()
	for _, m := range msgs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(m.Data); err != nil {
			t.Fatalf("message %d on %s is not OTLP traces: %v", m.Sequence, subject, err)
		}
		messages++
		spans += req.Traces().SpanCount()
	}
	return messages, spans
}

// CountLogRecords decodes every message on subject as an
// ExportLogsServiceRequest and returns the messages and log records stored.
func (s *Server) CountLogRecords(t testing.TB, subject string) (messages, records int) {
	t.Helper()
	for _, m := range s.Messages(t, subject) {
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(m.Data); err != nil {
			t.Fatalf("message %d on %s is not OTLP logs: %v", m.Sequence, subject, err)
		}
		messages++
		records += req.Logs().LogRecordCount()
	}
	return messages, records
}
