package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	otelconf "go.opentelemetry.io/contrib/otelconf/v0.3.0"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtelemetry"
	"go.opentelemetry.io/collector/service/telemetry"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// telemetryFactory is the collector's own telemetry: the standard one
// (service::telemetry in the YAML works as users know it), except that with
// a Prometheus registerer the metrics go to that registry (Tapline's
// /metrics) instead of a listener of their own; the configured readers are
// then ignored, the level and views still apply.
func telemetryFactory(reg prometheus.Registerer) telemetry.Factory {
	std := otelconftelemetry.NewFactory()
	if reg == nil {
		return std
	}
	return telemetry.NewFactory(std.CreateDefaultConfig,
		telemetry.WithCreateResource(std.CreateResource),
		telemetry.WithCreateLogger(std.CreateLogger),
		telemetry.WithCreateTracerProvider(std.CreateTracerProvider),
		telemetry.WithCreateMeterProvider(func(ctx context.Context, set telemetry.MeterSettings, cfg component.Config) (telemetry.MeterProvider, error) {
			return registryMeterProvider(ctx, set, cfg.(*otelconftelemetry.Config), reg)
		}),
	)
}

func registryMeterProvider(ctx context.Context, set telemetry.MeterSettings, cfg *otelconftelemetry.Config, reg prometheus.Registerer) (telemetry.MeterProvider, error) {
	level := cfg.Metrics.Level
	if level == configtelemetry.LevelNone {
		return noopProvider{noopmetric.NewMeterProvider()}, nil
	}
	views := cfg.Metrics.Views
	var extra []sdkmetric.Option
	if views == nil && set.DefaultViews != nil {
		views = set.DefaultViews(level)
		if level < configtelemetry.LevelDetailed {
			views = slices.DeleteFunc(views, isTransportDropView)
			extra = append(extra, sdkmetric.WithView(transportView))
		}
	}
	tracked := &trackingRegisterer{reg: reg}
	exp, err := otelprom.New(
		otelprom.WithRegisterer(tracked),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return nil, fmt.Errorf("collector metrics: %w", err)
	}
	sdk, err := otelconf.NewSDK(
		otelconf.WithContext(ctx),
		otelconf.WithOpenTelemetryConfiguration(otelconf.OpenTelemetryConfiguration{
			MeterProvider: &otelconf.MeterProvider{Views: views},
		}),
		otelconf.WithMeterProviderOptions(append(extra, sdkmetric.WithReader(exp))...),
	)
	if err != nil {
		tracked.unregisterAll()
		return nil, fmt.Errorf("collector metrics: %w", err)
	}
	mp, ok := sdk.MeterProvider().(telemetry.MeterProvider)
	if !ok {
		tracked.unregisterAll()
		return nil, errors.New("collector metrics: meter provider cannot be shut down")
	}
	return &registryProvider{MeterProvider: mp, tracked: tracked}, nil
}

// Meters of the OTLP receiver's HTTP and gRPC server instrumentation.
const (
	otelhttpMeter = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelgrpcMeter = "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
)

// isTransportDropView matches the default views that drop all HTTP and gRPC
// server metrics below the detailed level; transportView replaces them.
func isTransportDropView(v otelconf.View) bool {
	s := v.Selector
	return s != nil && s.InstrumentName == nil && s.MeterName != nil &&
		(*s.MeterName == otelhttpMeter || *s.MeterName == otelgrpcMeter)
}

// transportView keeps, below the detailed level, one cheap series per
// response code of the OTLP listeners: requests refused before they reach a
// pipeline (undecodable, too large) show only there. The duration
// histograms lose their buckets and most attributes; every other HTTP and
// gRPC server instrument is dropped as the default views do.
func transportView(inst sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	var keep []attribute.Key
	switch {
	case inst.Scope.Name == otelhttpMeter && inst.Name == "http.server.request.duration":
		keep = []attribute.Key{"http.request.method", "http.route", "http.response.status_code"}
	case inst.Scope.Name == otelgrpcMeter && inst.Name == "rpc.server.call.duration":
		keep = []attribute.Key{"rpc.method", "rpc.response.status_code"}
	case inst.Scope.Name == otelhttpMeter || inst.Scope.Name == otelgrpcMeter:
		return sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}, true
	default:
		return sdkmetric.Stream{}, false
	}
	return sdkmetric.Stream{
		Name:            inst.Name,
		Description:     inst.Description,
		Unit:            inst.Unit,
		Aggregation:     sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{}, NoMinMax: true},
		AttributeFilter: attribute.NewAllowKeysFilter(keep...),
	}, true
}

// registryProvider unregisters its collector from the registry on shutdown,
// so a collector restarted in the same process (config reload, tests)
// reports once.
type registryProvider struct {
	telemetry.MeterProvider
	tracked *trackingRegisterer
}

func (p *registryProvider) Shutdown(ctx context.Context) error {
	err := p.MeterProvider.Shutdown(ctx)
	p.tracked.unregisterAll()
	return err
}

// trackingRegisterer remembers what it registered so it can undo it.
type trackingRegisterer struct {
	reg prometheus.Registerer
	mu  sync.Mutex
	cs  []prometheus.Collector
}

func (t *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := t.reg.Register(c); err != nil {
		return err
	}
	t.mu.Lock()
	t.cs = append(t.cs, c)
	t.mu.Unlock()
	return nil
}

func (t *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t *trackingRegisterer) Unregister(c prometheus.Collector) bool {
	return t.reg.Unregister(c)
}

func (t *trackingRegisterer) unregisterAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.cs {
		t.reg.Unregister(c)
	}
	t.cs = nil
}

type noopProvider struct{ noopmetric.MeterProvider }

func (noopProvider) Shutdown(context.Context) error { return nil }
