package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/report"
)

func TestDemoUsage(t *testing.T) {
	r := tapline(t, nil, "demo", "now")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `unexpected argument "now"`)
}

func TestDemoFindRoot(t *testing.T) {
	root, err := findRoot()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "testapps", "fastapi", "app.py"))
	require.NoError(t, err)

	t.Chdir(t.TempDir())
	_, err = findRoot()
	assert.ErrorContains(t, err, "pass --root")
}

func TestDemoReportSummary(t *testing.T) {
	rep := &report.Report{
		RunID:     "soc2-x",
		Framework: report.Framework{Name: "SOC 2"},
		Period:    report.Period{From: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		Result:    report.Result("fail"),
		Summary:   report.Summary{Exceptions: 2},
		Checks: []report.CheckResult{
			{ID: "cert_expiry", Number: 4, Exceptions: []report.Exception{{Subject: "CN=a", Severity: "fail"}}},
			{ID: "peer_identity", Number: 1, Exceptions: []report.Exception{{Subject: "x -> y", Severity: "fail"}}},
		},
	}
	got := reportSummary(rep, "http://ui")
	assert.Equal(t, "\ncompliance report soc2-x (SOC 2, 2026-01-02): FAIL, 2 exceptions\n"+
		"  peer_identity        fail  x -> y\n"+
		"  cert_expiry          fail  CN=a\n"+
		"see http://ui/compliance\n\n", got)
}
