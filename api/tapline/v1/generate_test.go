package taplinev1_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
)

// TestGeneratedCodeIsFresh regenerates the API code into a temporary
// directory and fails when the committed files differ from it.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerating the API code is not short")
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("protoc is required under CI: %v", err)
		}
		t.Skip("protoc not installed (Debian protobuf-compiler); set CI=true to make this a failure")
	}
	cmd := exec.Command("../../../scripts/generate.sh", "--check")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generated code is stale or could not be regenerated: %v\n%s", err, out)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	var doc struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(taplinev1.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi document: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Fatalf("swagger version %q, want 2.0", doc.Swagger)
	}
	for _, p := range []string{"/api/v1/traces", "/api/v1/traces/{traceId}", "/api/v1/requests/{requestId}", "/api/v1/events", "/api/v1/pipeline/health"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi document has no path %s", p)
		}
	}
}
