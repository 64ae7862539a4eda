package nginxreceiver

import (
	"context"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
)

// stats counts lines by outcome. The receiver's metrics read them, so the
// collector's Prometheus endpoint shows them (tapline_nginx_lines_total,
// tapline_nginx_line_problems_total, tapline_nginx_dropped_total), and
// tests read them directly.
type stats struct {
	mapped, partial, unparsed      atomic.Int64 // lines by result
	truncated, oversize            atomic.Int64 // problems
	badFields, invalidUTF8         atomic.Int64
	dropped                        atomic.Int64 // records the pipeline refused (syslog cannot resend)
	fileTruncations, fileRotations atomic.Int64 // copytruncate and rename rotations seen
	frameErrors                    atomic.Int64 // syslog TCP framing errors (connection closed)
}

// count records the outcome of one line.
func (s *stats) count(res accesslog.Result, oversize bool) {
	switch {
	case !res.Mapped:
		s.unparsed.Add(1)
	case res.Truncated || res.BadFields > 0 || oversize:
		s.partial.Add(1)
	default:
		s.mapped.Add(1)
	}
	if res.Truncated && !oversize {
		s.truncated.Add(1)
	}
	if oversize {
		s.oversize.Add(1)
	}
	if res.BadFields > 0 {
		s.badFields.Add(int64(res.BadFields))
	}
	if res.InvalidUTF8 {
		s.invalidUTF8.Add(1)
	}
}

// register exposes the counters as asynchronous metrics; the returned
// function unregisters them.
func (s *stats) register(set component.TelemetrySettings) (func() error, error) {
	meter := set.MeterProvider.Meter("github.com/tapline/tapline/collector/nginxreceiver")
	lines, err := meter.Int64ObservableCounter("tapline.nginx.lines",
		metric.WithDescription("Access-log lines received, by result: mapped, partial (mapped with a problem), unparsed."),
		metric.WithUnit("{line}"))
	if err != nil {
		return nil, fmt.Errorf("nginx receiver: create metric: %w", err)
	}
	problems, err := meter.Int64ObservableCounter("tapline.nginx.line_problems",
		metric.WithDescription("Problems found in access-log lines: truncated (cut JSON), oversize, bad_field, invalid_utf8, frame_error, file_truncated, file_rotated."),
		metric.WithUnit("{problem}"))
	if err != nil {
		return nil, fmt.Errorf("nginx receiver: create metric: %w", err)
	}
	dropped, err := meter.Int64ObservableCounter("tapline.nginx.dropped",
		metric.WithDescription("Syslog records lost because the pipeline refused them."),
		metric.WithUnit("{record}"))
	if err != nil {
		return nil, fmt.Errorf("nginx receiver: create metric: %w", err)
	}
	attr := func(k, v string) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String(k, v)))
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(lines, s.mapped.Load(), attr("result", "mapped"))
		o.ObserveInt64(lines, s.partial.Load(), attr("result", "partial"))
		o.ObserveInt64(lines, s.unparsed.Load(), attr("result", "unparsed"))
		o.ObserveInt64(problems, s.truncated.Load(), attr("problem", "truncated"))
		o.ObserveInt64(problems, s.oversize.Load(), attr("problem", "oversize"))
		o.ObserveInt64(problems, s.badFields.Load(), attr("problem", "bad_field"))
		o.ObserveInt64(problems, s.invalidUTF8.Load(), attr("problem", "invalid_utf8"))
		o.ObserveInt64(problems, s.frameErrors.Load(), attr("problem", "frame_error"))
		o.ObserveInt64(problems, s.fileTruncations.Load(), attr("problem", "file_truncated"))
		o.ObserveInt64(problems, s.fileRotations.Load(), attr("problem", "file_rotated"))
		o.ObserveInt64(dropped, s.dropped.Load())
		return nil
	}, lines, problems, dropped)
	if err != nil {
		return nil, fmt.Errorf("nginx receiver: register metrics: %w", err)
	}
	return reg.Unregister, nil
}
