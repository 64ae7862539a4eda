package nginxreceiver

import (
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func sumPoints(t *testing.T, m metricdata.Metrics) []metricdata.DataPoint[int64] {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("metric %s is %T, not an int64 sum", m.Name, m.Data)
	}
	return sum.DataPoints
}
