package nginxreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/event"
)

// scopeName is the instrumentation scope of the records the receiver emits.
const scopeName = "github.com/tapline/tapline/collector/nginxreceiver"

// errOversize is noted in tapline.parse_error of a line cut to max_line_bytes.
const errOversize = "line longer than max_line_bytes, cut"

// Transports, as obsreport names them.
const (
	transportUDP  = "udp"
	transportTCP  = "tcp"
	transportFile = "file"
)

type nginxReceiver struct {
	cfg   *Config
	set   receiver.Settings
	next  consumer.Logs
	obs   map[string]*receiverhelper.ObsReport
	stats stats
	node  string

	mu         sync.Mutex // guards the lifecycle fields below
	started    bool
	stopped    bool
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	udp        *udpServer
	tcp        *tcpServer
	tail       *tailer
	unregister func() error
}

func newReceiver(cfg *Config, set receiver.Settings, next consumer.Logs) (*nginxReceiver, error) {
	r := &nginxReceiver{cfg: cfg, set: set, next: next, obs: map[string]*receiverhelper.ObsReport{}}
	for _, tr := range []string{transportUDP, transportTCP, transportFile} {
		obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
			ReceiverID: set.ID, Transport: tr, ReceiverCreateSettings: set,
		})
		if err != nil {
			return nil, fmt.Errorf("nginx receiver: %w", err)
		}
		r.obs[tr] = obs
	}
	return r, nil
}

// Start binds the listeners and opens the files, then serves in goroutines.
func (r *nginxReceiver) Start(_ context.Context, _ component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("nginx receiver: already started")
	}
	r.started = true
	r.node = r.cfg.Node
	if r.node == "" {
		r.node, _ = os.Hostname()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	unregister, err := r.stats.register(r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	r.unregister = unregister
	if err := r.startLocked(ctx); err != nil {
		return errors.Join(err, r.shutdownLocked(context.Background()))
	}
	r.set.Logger.Info("nginx receiver started",
		zap.String("syslog_udp", r.cfg.Syslog.UDP), zap.String("syslog_tcp", r.cfg.Syslog.TCP),
		zap.Strings("files", r.cfg.Files.Include))
	return nil
}

func (r *nginxReceiver) startLocked(ctx context.Context) error {
	if r.cfg.Syslog.UDP != "" {
		s, err := listenUDP(r, r.cfg.Syslog.UDP)
		if err != nil {
			return err
		}
		r.udp = s
		r.wg.Go(func() { s.serve(ctx) })
	}
	if r.cfg.Syslog.TCP != "" {
		s, err := listenTCP(r, r.cfg.Syslog.TCP)
		if err != nil {
			return err
		}
		r.tcp = s
		r.wg.Go(func() { s.serve(ctx) })
	}
	if len(r.cfg.Files.Include) > 0 {
		t, err := newTailer(r, statePath(r.cfg.StorageDir, r.set.ID))
		if err != nil {
			return err
		}
		r.tail = t
		r.wg.Go(func() { t.run(ctx) })
	}
	return nil
}

// Shutdown stops the listeners and the tailer, waits for them (within ctx's
// deadline) and saves the file positions. Safe before Start and twice.
func (r *nginxReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.stopped {
		return nil
	}
	err := r.shutdownLocked(ctx)
	r.set.Logger.Info("nginx receiver stopped")
	return err
}

func (r *nginxReceiver) shutdownLocked(ctx context.Context) error {
	r.stopped = true
	var errs []error
	if r.cancel != nil {
		r.cancel()
	}
	if r.udp != nil {
		errs = append(errs, r.udp.close())
	}
	if r.tcp != nil {
		errs = append(errs, r.tcp.close())
	}
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("nginx receiver: shutdown: %w", ctx.Err()))
	}
	if r.tail != nil {
		errs = append(errs, r.tail.close())
	}
	if r.unregister != nil {
		errs = append(errs, r.unregister())
	}
	return errors.Join(errs...)
}

// line is one received access-log line.
type line struct {
	data     []byte
	host     string // syslog sender's host name, if known
	oversize bool   // cut to max_line_bytes
}

// cut trims b to max_line_bytes and says whether it had to.
func (r *nginxReceiver) cut(b []byte) ([]byte, bool) {
	if len(b) > r.cfg.MaxLineBytes {
		return b[:r.cfg.MaxLineBytes], true
	}
	return b, false
}

// consume maps lines into one batch of records and hands it to the next
// consumer. Lines are counted once the pipeline took them; lines the pipeline
// refused are counted as dropped when drop is set (syslog cannot resend),
// and are left for a retry otherwise (files).
func (r *nginxReceiver) consume(ctx context.Context, transport string, parser *accesslog.NginxParser, lines []line, drop bool) error {
	if len(lines) == 0 {
		return nil
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrServiceName, r.cfg.ServiceName)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	recs := sl.LogRecords()
	recs.EnsureCapacity(len(lines))
	results := make([]accesslog.Result, len(lines))
	now := pcommon.NewTimestampFromTime(time.Now())
	for i, l := range lines {
		rec := recs.AppendEmpty()
		rec.SetObservedTimestamp(now)
		results[i] = parser.Map(l.data, rec)
		attrs := rec.Attributes()
		if l.oversize {
			msg := errOversize
			if v, ok := attrs.Get(event.AttrParseError); ok {
				msg = v.Str() + "; " + msg
			}
			attrs.PutStr(event.AttrParseError, msg)
		}
		node := l.host
		if node == "" {
			node = r.node
		}
		if node != "" {
			attrs.PutStr(event.AttrNode, node)
		}
	}
	obs := r.obs[transport]
	opCtx := obs.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(opCtx, ld)
	obs.EndLogsOp(opCtx, "nginx", len(lines), err)
	if err == nil || drop {
		for i, l := range lines {
			r.stats.count(results[i], l.oversize)
		}
	}
	if err != nil && drop {
		r.stats.dropped.Add(int64(len(lines)))
	}
	return err
}

var _ receiver.Logs = (*nginxReceiver)(nil)
