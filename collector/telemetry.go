package collector

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/otlptranslator"
	otelconf "go.opentelemetry.io/contrib/otelconf/v0.3.0"
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
	if views == nil && set.DefaultViews != nil {
		views = set.DefaultViews(level)
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
		otelconf.WithMeterProviderOptions(sdkmetric.WithReader(exp)),
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
