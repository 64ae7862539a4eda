package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReportPeriod(t *testing.T) {
	now := time.Date(2025, 3, 12, 15, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		from, to, want, err string
	}{
		{"", "", "2025-03-11T00:00:00Z/2025-03-12T00:00:00Z", ""},
		{"2025-03-01", "", "2025-03-01T00:00:00Z/2025-03-02T00:00:00Z", ""},
		{"2025-03-01", "2025-03-08", "2025-03-01T00:00:00Z/2025-03-08T00:00:00Z", ""},
		{"2025-03-01T10:00:00+02:00", "2025-03-01T12:00:00Z", "2025-03-01T08:00:00Z/2025-03-01T12:00:00Z", ""},
		{"", "2025-03-01", "", "--to needs --from"},
		{"yesterday", "", "", "neither RFC 3339"},
		{"2025-03-02", "2025-03-01", "", "must be before"},
	} {
		from, to, err := reportPeriod(tc.from, tc.to, now)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, from.Format(time.RFC3339)+"/"+to.Format(time.RFC3339))
	}
}

func TestReportCommands(t *testing.T) {
	requireCHDB(t)
	dataDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "soc2")
	from := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1).Format(time.DateOnly)

	keyDir := t.TempDir()
	key := tapline(t, nil, "report", "keygen", "--key", filepath.Join(keyDir, "k.pem"))
	require.Equal(t, 0, key.code, key.stderr)
	require.Contains(t, key.stdout, "created signing key")
	require.Contains(t, key.stdout, "-----BEGIN PUBLIC KEY-----")

	// An empty store: the report is written, every check in error (no data).
	r := tapline(t, nil, "report", "run", "--data-dir", dataDir, "--framework", "soc2", "--from", from, "--out", out)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "created signing key")
	require.Contains(t, r.stdout, ": ERROR (controls: 11 error)")
	pub := filepath.Join(t.TempDir(), "pub.pem")
	start := strings.Index(r.stdout, "-----BEGIN PUBLIC KEY-----")
	end := strings.Index(r.stdout, "-----END PUBLIC KEY-----")
	require.True(t, start >= 0 && end > start)
	require.NoError(t, os.WriteFile(pub, []byte(r.stdout[start:end+len("-----END PUBLIC KEY-----")]+"\n"), 0o644))

	v := tapline(t, nil, "report", "verify", out, "--public-key", pub)
	require.Equal(t, 0, v.code, v.stdout+v.stderr)
	require.Contains(t, v.stdout, "OK ")
	require.Contains(t, v.stdout, "(the trusted key)")

	other := tapline(t, nil, "report", "verify", out, "--public-key", filepath.Join(keyDir, "k.pem"))
	require.Equal(t, exitError, other.code, "another key must not verify")
	require.Contains(t, other.stdout, "TAMPERED manifest.sig")

	pdf := filepath.Join(out, "report.pdf")
	b, err := os.ReadFile(pdf)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x20
	require.NoError(t, os.WriteFile(pdf, b, 0o644))
	bad := tapline(t, nil, "report", "verify", out)
	require.Equal(t, exitError, bad.code)
	require.Contains(t, bad.stdout, "TAMPERED report.pdf: changed")
	require.Contains(t, bad.stderr, "report.pdf")

	usage := tapline(t, nil, "report", "run", "--framework", "soc2")
	require.Equal(t, exitUsage, usage.code)
	unknown := tapline(t, nil, "report", "run", "--data-dir", dataDir, "--framework", "pci", "--out", t.TempDir())
	require.Equal(t, exitError, unknown.code)
	require.Contains(t, unknown.stderr, `unknown framework "pci"`)
}

// TestReportSchedule: `tapline report schedule` runs the configured
// schedules as a service of its own and writes their bundles; without a
// schedule it refuses to start.
func TestReportSchedule(t *testing.T) {
	requireCHDB(t)
	none := tapline(t, nil, "report", "schedule", "--data-dir", t.TempDir())
	require.Equal(t, exitError, none.code)
	require.Contains(t, none.stderr, "compliance.schedules is empty")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
compliance:
  schedules:
    - {name: soc2-often, framework: soc2, cron: "@every 1s", period: day}
`), 0o600))
	p := startProcess(t, nil, "report", "schedule", "--config", cfg, "--data-dir", filepath.Join(dir, "data"),
		"--set", "http.addr=127.0.0.1:0", "--set", "log.format=json")
	ready := p.waitLog(t, "tapline report schedule ready")
	resp, err := http.Get("http://" + ready["http"].(string) + "/readyz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	written := p.waitLog(t, "compliance report written")
	require.Equal(t, "soc2-often", written["schedule"])
	run, _ := written["run"].(string)
	require.NotEmpty(t, run)
	p.stop(t)
	require.FileExists(t, filepath.Join(dir, "data", "reports", "soc2-often", run, "manifest.json"),
		"the bundle is under DATA_DIR/reports/SCHEDULE/RUN")
}
