package fastapi

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TAPLINE_PYTHON is the only interpreter tried when set, and one that
// cannot import the packages is refused with the import error.
func TestPythonOverride(t *testing.T) {
	t.Setenv("TAPLINE_PYTHON", filepath.Join(t.TempDir(), "no-such-python"))
	_, err := Python()
	require.ErrorContains(t, err, "no-such-python: not found")

	// A "python" that runs but cannot import fastapi.
	fake := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho 'Traceback'; echo \"ModuleNotFoundError: No module named 'fastapi'\"; exit 1\n"), 0o755))
	t.Setenv("TAPLINE_PYTHON", fake)
	_, err = Python()
	require.ErrorContains(t, err, "ModuleNotFoundError: No module named 'fastapi'")
	require.NotContains(t, err.Error(), "Traceback", "only the traceback's last line")
}

// The Debian interpreter is found when the packages are installed (make
// test installs them; under CI their absence is a failure).
func TestPythonFound(t *testing.T) {
	path, err := Python()
	if err != nil && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	require.NoError(t, err)
	require.FileExists(t, path)
}
