package accesslogprocessor

import (
	"encoding/json"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// jsonOf renders a map body as a JSON object.
func jsonOf(m pcommon.Map) ([]byte, error) {
	return json.Marshal(m.AsRaw())
}
