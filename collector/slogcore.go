package collector

import (
	"context"
	"log/slog"
	"math"
	"time"

	"go.uber.org/zap/zapcore"
)

// slogCore is a zapcore.Core that writes the collector's zap log entries to
// Tapline's slog handler, so that one process has one log stream, in one
// format, with one level setting.
type slogCore struct {
	h slog.Handler
}

func newSlogCore(h slog.Handler) zapcore.Core { return &slogCore{h: h} }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// Enabled implements zapcore.LevelEnabler.
func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), slogLevel(l))
}

// With returns a core that adds fields to every entry.
func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return &slogCore{h: c.h.WithAttrs(attrs(fields))}
}

// Check adds the core to the entry if its level is enabled.
func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write hands one entry to the slog handler.
func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	r := slog.NewRecord(t, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(attrs(fields)...)
	return c.h.Handle(context.Background(), r)
}

// Sync has nothing to flush: slog handlers write through.
func (c *slogCore) Sync() error { return nil }

// attrs converts zap fields to slog attributes, keeping numbers, booleans,
// durations and times typed and rendering everything else as zap would.
func attrs(fields []zapcore.Field) []slog.Attr {
	out := make([]slog.Attr, 0, len(fields))
	for _, f := range fields {
		if f.Key == "resource" {
			// The collector's own resource (service name, instance id) on
			// every entry: the tapline process's logger already says who
			// is logging.
			continue
		}
		switch f.Type {
		case zapcore.StringType:
			out = append(out, slog.String(f.Key, f.String))
		case zapcore.BoolType:
			out = append(out, slog.Bool(f.Key, f.Integer == 1))
		case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type:
			out = append(out, slog.Int64(f.Key, f.Integer))
		case zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type:
			out = append(out, slog.Uint64(f.Key, uint64(f.Integer)))
		case zapcore.Float64Type:
			out = append(out, slog.Float64(f.Key, math.Float64frombits(uint64(f.Integer))))
		case zapcore.DurationType:
			out = append(out, slog.Duration(f.Key, time.Duration(f.Integer)))
		case zapcore.ErrorType:
			if err, ok := f.Interface.(error); ok && err != nil {
				out = append(out, slog.String(f.Key, err.Error()))
			}
		case zapcore.SkipType:
		default:
			enc := zapcore.NewMapObjectEncoder()
			f.AddTo(enc)
			for k, v := range enc.Fields {
				out = append(out, slog.Any(k, v))
			}
		}
	}
	return out
}

var _ zapcore.Core = (*slogCore)(nil)
