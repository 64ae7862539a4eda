package collector

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"

	"github.com/tapline/tapline/collector/accesslogprocessor"
	"github.com/tapline/tapline/collector/grpcdecodeextension"
	"github.com/tapline/tapline/collector/nginxreceiver"
	"github.com/tapline/tapline/exporters/natsexporter"
)

// Factories returns the components of Tapline's distribution. reg, if not
// nil, receives the collector's own metrics (see Settings.Registerer).
//
// A component is added here and nowhere else: its factory in the list of
// its kind, and its Go module in the matching *Modules map (reported by
// `components`).
func Factories(reg prometheus.Registerer) (otelcol.Factories, error) {
	receivers, err := otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
		// Tapline's receivers.
		nginxreceiver.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, fmt.Errorf("receivers: %w", err)
	}
	processors, err := otelcol.MakeFactoryMap[processor.Factory](
		memorylimiterprocessor.NewFactory(),
		// Available for user configurations; not in the built-in pipelines
		// because it answers clients before the data is stored.
		batchprocessor.NewFactory(),
		// Tapline's processors.
		accesslogprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, fmt.Errorf("processors: %w", err)
	}
	exporters, err := otelcol.MakeFactoryMap[exporter.Factory](
		natsexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, fmt.Errorf("exporters: %w", err)
	}
	extensions, err := otelcol.MakeFactoryMap[extension.Factory](
		// Tapline's extensions.
		grpcdecodeextension.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, fmt.Errorf("extensions: %w", err)
	}
	const core = "go.opentelemetry.io/collector"
	const tapline = "github.com/tapline/tapline"
	return otelcol.Factories{
		Receivers:  receivers,
		Processors: processors,
		Exporters:  exporters,
		Extensions: extensions,
		Telemetry:  telemetryFactory(reg),
		ReceiverModules: map[component.Type]string{
			otlpreceiver.NewFactory().Type(): core + "/receiver/otlpreceiver v0.162.0",
			nginxreceiver.Type:               tapline,
		},
		ProcessorModules: map[component.Type]string{
			memorylimiterprocessor.NewFactory().Type(): core + "/processor/memorylimiterprocessor v0.162.0",
			batchprocessor.NewFactory().Type():         core + "/processor/batchprocessor v0.162.0",
			accesslogprocessor.Type:                    tapline,
		},
		ExporterModules: map[component.Type]string{
			natsexporter.Type: tapline,
		},
		ExtensionModules: map[component.Type]string{
			grpcdecodeextension.Type: tapline,
		},
	}, nil
}
