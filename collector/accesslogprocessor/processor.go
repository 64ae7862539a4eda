package accesslogprocessor

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/event"
)

// Resource attributes Envoy's OpenTelemetry access logger sets itself.
const (
	envoyLogName  = "log_name"
	envoyNodeName = "node_name"
)

// Outcomes counted in tapline.accesslog.records.
const (
	outcomeMapped  = "mapped"  // became an access event
	outcomePartial = "partial" // became an access event, with tapline.parse_error
	outcomeFailed  = "failed"  // hinted as an access log but not parseable: passed on with tapline.parse_error
	outcomePassed  = "passed"  // not an access log: passed on unchanged
)

type logProcessor struct {
	cfg     *Config
	parsers sync.Pool // *accesslog.NginxParser
	records metric.Int64Counter
}

func newLogProcessor(cfg *Config, set component.TelemetrySettings) (*logProcessor, error) {
	meter := set.MeterProvider.Meter("github.com/tapline/tapline/collector/accesslogprocessor")
	records, err := meter.Int64Counter("tapline.accesslog.records",
		metric.WithDescription("Log records seen by the access-log processor, by source and outcome."),
		metric.WithUnit("{record}"))
	if err != nil {
		return nil, fmt.Errorf("accesslog processor: create metric: %w", err)
	}
	return &logProcessor{
		cfg:     cfg,
		parsers: sync.Pool{New: func() any { return new(accesslog.NginxParser) }},
		records: records,
	}, nil
}

func (p *logProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	counts := map[[2]string]int64{}
	parser := p.parsers.Get().(*accesslog.NginxParser)
	defer p.parsers.Put(parser)
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		res := rl.Resource()
		resHint := hint(res.Attributes())
		logName, isEnvoy := res.Attributes().Get(envoyLogName)
		isEnvoy = isEnvoy && (len(p.cfg.EnvoyLogNames) == 0 || slices.Contains(p.cfg.EnvoyLogNames, logName.AsString()))
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			recs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				rec := recs.At(k)
				source, outcome := p.processRecord(parser, rec, res, resHint, isEnvoy)
				counts[[2]string{source, outcome}]++
			}
		}
	}
	for k, n := range counts {
		p.records.Add(ctx, n, metric.WithAttributeSet(attribute.NewSet(
			attribute.String("source", k[0]), attribute.String("outcome", k[1]))))
	}
	return ld, nil
}

func (p *logProcessor) processRecord(parser *accesslog.NginxParser, rec plog.LogRecord, res pcommon.Resource, resHint string, isEnvoy bool) (source, outcome string) {
	if rec.EventName() != "" {
		return "", outcomePassed
	}
	source = hint(rec.Attributes())
	if source == "" {
		source = resHint
	}
	if source == "" && isEnvoy {
		source = event.SourceMesh
	}
	sniffed := false
	if source == "" && p.cfg.DetectJSONBodies {
		source = accesslog.SniffSource(rec.Body())
		sniffed = true
	}
	var r accesslog.Result
	switch source {
	case event.SourceNginx:
		switch rec.Body().Type() {
		case pcommon.ValueTypeStr:
			line := rec.Body().Str()
			_ = rec.Body().FromRaw(nil)
			r = parser.Map([]byte(line), rec)
		case pcommon.ValueTypeMap: // an agent parsed the JSON line already
			r = mapNginxMap(parser, rec)
		default:
			if sniffed {
				return "", outcomePassed
			}
			rec.Attributes().PutStr(event.AttrParseError, "nginx record without a text body")
			return source, outcomeFailed
		}
	case event.SourceMesh:
		r = accesslog.MapMesh(rec)
		if !r.Mapped {
			if sniffed || isEnvoy && hint(rec.Attributes()) == "" && resHint == "" {
				return "", outcomePassed
			}
			rec.Attributes().PutStr(event.AttrParseError, "no access-log fields found")
			return source, outcomeFailed
		}
		if p.cfg.AddNode {
			if node, ok := res.Attributes().Get(envoyNodeName); ok && node.AsString() != "" {
				if _, has := rec.Attributes().Get(event.AttrNode); !has {
					rec.Attributes().PutStr(event.AttrNode, node.AsString())
				}
			}
		}
	default:
		return "", outcomePassed
	}
	switch {
	case !r.Mapped:
		return source, outcomeFailed
	case r.Truncated || r.BadFields > 0 || hasParseError(rec):
		return source, outcomePartial
	}
	return source, outcomeMapped
}

// mapNginxMap maps an Nginx JSON line an agent already parsed into a map body,
// by rendering it back to JSON: one mapping code path.
func mapNginxMap(parser *accesslog.NginxParser, rec plog.LogRecord) accesslog.Result {
	line, err := jsonOf(rec.Body().Map())
	if err != nil {
		rec.Attributes().PutStr(event.AttrParseError, "nginx body not renderable as json")
		return accesslog.Result{}
	}
	_ = rec.Body().FromRaw(nil)
	return parser.Map(line, rec)
}

func hint(m pcommon.Map) string {
	if v, ok := m.Get(event.AttrSource); ok {
		switch s := v.AsString(); s {
		case event.SourceNginx, event.SourceMesh:
			return s
		}
	}
	return ""
}

func hasParseError(rec plog.LogRecord) bool {
	_, ok := rec.Attributes().Get(event.AttrParseError)
	return ok
}
