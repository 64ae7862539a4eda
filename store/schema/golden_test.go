package schema_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateExt = flag.Lookup("update")

// checkGoldenFile compares got with testdata/name, or rewrites it with -update.
func checkGoldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateExt != nil && updateExt.Value.String() == "true" {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./store/schema -update")
	require.Equal(t, string(want), got, "differs from %s (go test ./store/schema -update to accept)", path)
}
