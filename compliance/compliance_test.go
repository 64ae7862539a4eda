package compliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/compliance/render"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/compliance/sign"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb/chdbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = chdbtest.RemoveDir()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/ebitengine/purego.callbackWrap"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func day() time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2) }

func testConfig(t *testing.T) compliance.Config {
	cfg := compliance.Default()
	cfg.Checks = compliancetest.CheckConfig()
	cfg.Samples = 3
	cfg.UIBaseURL = "https://tapline.example.com"
	return cfg.WithDataDir(t.TempDir())
}

// violations is a clean day with every known violation.
func violations() *compliancetest.Day {
	d := compliancetest.Clean(day())
	d.TLS10()
	d.ExpiredClientCert()
	d.AnonymousPrivateRoute()
	d.ForbiddenSpike()
	d.UnknownFlow()
	return d
}

func seeded(t *testing.T, d *compliancetest.Day) store.Engine {
	eng := compliancetest.Engine(t)
	require.NoError(t, compliancetest.Insert(context.Background(), eng, d.Data))
	return eng
}

func TestRunWritesAVerifiableBundle(t *testing.T) {
	d := violations()
	eng := seeded(t, d)
	cfg := testConfig(t)
	out := filepath.Join(t.TempDir(), "bundle")
	ctx := context.Background()
	res, err := compliance.Run(ctx, eng, compliance.RunRequest{
		Framework: "soc2", From: d.Start, To: d.Start.Add(24 * time.Hour), OutDir: out, Config: cfg, Version: "test",
	})
	require.NoError(t, err)
	require.True(t, res.KeyCreated, "the signing key is made on first use")
	fi, err := os.Stat(cfg.SigningKey)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	rep := res.Report
	require.Equal(t, report.Fail, rep.Result)
	require.Len(t, rep.Controls, 11)
	require.Equal(t, report.Fail, rep.Control("CC6.7").Result, "TLS 1.0 and the expired certificate")
	require.Equal(t, report.Pass, rep.Control("CC2.1").Result)
	require.True(t, rep.Integrity.LedgerOK)

	names := []string{render.FileJSON, render.FileHTML, render.FilePDF, render.FileExceptions, render.FilePopulations,
		render.FileSamples, render.FileOSCAL, sign.ManifestFile, sign.SignatureFile}
	for _, n := range names {
		require.FileExists(t, filepath.Join(out, n))
	}
	require.Len(t, res.Manifest.Files, 7)
	require.Equal(t, rep.Integrity.LedgerHeads, res.Manifest.Ledger.Heads)
	require.NotEmpty(t, res.Manifest.Ledger.Heads[0].HeadHash)

	// The HTML holds the exact SQL and its parameters, the samples link to the UI.
	html, err := os.ReadFile(filepath.Join(out, render.FileHTML))
	require.NoError(t, err)
	require.Contains(t, string(html), "{min_version:String}")
	require.Contains(t, string(html), "https://tapline.example.com/request/")
	csv, err := os.ReadFile(filepath.Join(out, render.FileExceptions))
	require.NoError(t, err)
	require.Contains(t, string(csv), "principal user:eve")

	// Recorded: the run as done, one finding row per control, check and day.
	runs, err := compliance.Runs(ctx, eng, 10)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, compliance.StatusDone, runs[0].Status)
	require.Equal(t, res.Signature.ManifestSHA256, runs[0].ManifestSHA256)
	rows, err := eng.Query(ctx, "SELECT count(), countIf(Result = 'fail') FROM compliance_findings WHERE RunId = {run:String}", store.Params{"run": res.RunID})
	require.NoError(t, err)
	var n, failed uint64
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&n, &failed))
	require.NoError(t, rows.Close())
	links := 0
	for _, c := range rep.Controls {
		links += len(c.Checks)
	}
	require.Equal(t, uint64(links), n)
	require.NotZero(t, failed)

	t.Run("pdf", func(t *testing.T) { checkPDF(t, filepath.Join(out, render.FilePDF), "soc2") })
	t.Run("oscal", func(t *testing.T) { checkOSCAL(t, filepath.Join(out, render.FileOSCAL)) })
	t.Run("tampering", func(t *testing.T) { checkTampering(t, out, res) })

	// A second run into the same directory is refused.
	_, err = compliance.Run(ctx, eng, compliance.RunRequest{Framework: "soc2", From: d.Start, To: d.Start.Add(24 * time.Hour), OutDir: out, Config: cfg})
	require.ErrorContains(t, err, "not empty")
}

func TestISOReportHoldsEveryControl(t *testing.T) {
	d := compliancetest.Clean(day())
	eng := seeded(t, d)
	cfg := testConfig(t)
	out := filepath.Join(t.TempDir(), "iso")
	res, err := compliance.Run(context.Background(), eng, compliance.RunRequest{
		Framework: "iso27001", From: d.Start, To: d.Start.Add(24 * time.Hour), OutDir: out, Config: cfg,
	})
	require.NoError(t, err)
	require.Equal(t, report.Pass, res.Report.Result, "a clean day passes every control")
	require.Len(t, res.Report.Controls, 15)
	checkPDF(t, filepath.Join(out, render.FilePDF), "iso27001")
	checkOSCAL(t, filepath.Join(out, render.FileOSCAL))
	v, err := sign.Verify(out, nil)
	require.NoError(t, err)
	require.True(t, v.OK(), v.Err())
}

func checkPDF(t *testing.T, path, framework string) {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) is missing")
		}
		t.Skip("pdftotext (Debian poppler-utils) is not installed")
	}
	text, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	require.NoError(t, err, "pdftotext could not read the PDF")
	cat, err := catalog.Load()
	require.NoError(t, err)
	fw, err := cat.Framework(framework)
	require.NoError(t, err)
	for _, c := range fw.Controls {
		require.Contains(t, string(text), c.ID+" "+c.Title, "control %s is missing from the PDF", c.ID)
	}
	require.Contains(t, string(text), "evidence report")
}

// oscalSchema is NIST's OSCAL assessment-results schema, kept beside the
// repository (not in it).
func oscalSchema(t *testing.T) string {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "oscal", "oscal_assessment-results_schema_v1.0.4.json")
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
	}
}

func checkOSCAL(t *testing.T, path string) {
	t.Helper()
	schemaPath := oscalSchema(t)
	sf, err := os.Open(schemaPath)
	if err != nil {
		t.Skipf("OSCAL schema not found at ../shared/oscal/ (%v): validation skipped", err)
	}
	defer sf.Close()
	doc, err := jsonschema.UnmarshalJSON(sf)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("oscal-ar.json", doc))
	sch, err := c.Compile("oscal-ar.json")
	require.NoError(t, err)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	inst, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst))

	// The schema's own checks must be able to fail: a broken document is refused.
	var bad map[string]any
	b, _ := os.ReadFile(path)
	require.NoError(t, json.Unmarshal(b, &bad))
	bad["assessment-results"].(map[string]any)["metadata"].(map[string]any)["oscal-version"] = "one"
	res := bad["assessment-results"].(map[string]any)["results"].([]any)[0].(map[string]any)
	res["findings"].([]any)[0].(map[string]any)["target"].(map[string]any)["status"] = map[string]any{"state": "maybe"}
	require.Error(t, sch.Validate(bad))
}

func checkTampering(t *testing.T, out string, res *compliance.Result) {
	pub := res.Manifest.PublicKey
	require.NotEmpty(t, pub)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, 9)
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			dir := copyDir(t, out)
			path := filepath.Join(dir, e.Name())
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			for _, at := range []int{0, len(b) / 2, len(b) - 2} {
				changed := bytes.Clone(b)
				changed[at] ^= 0x01
				require.NoError(t, os.WriteFile(path, changed, 0o644))
				v, err := sign.Verify(dir, nil)
				require.NoError(t, err)
				require.False(t, v.OK(), "a changed byte %d in %s went unnoticed", at, e.Name())
				require.Equal(t, e.Name(), v.Problems[0].File, "%v", v.Problems)
				require.ErrorIs(t, v.Err(), sign.ErrTampered)
			}
		})
	}
	t.Run("intact", func(t *testing.T) {
		v, err := sign.Verify(out, nil)
		require.NoError(t, err)
		require.True(t, v.OK(), v.Err())
		require.Equal(t, 7, v.Checked)
	})
	t.Run("re-signed with another key", func(t *testing.T) {
		dir := copyDir(t, out)
		_, other, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		var m sign.Manifest
		b, _ := os.ReadFile(filepath.Join(dir, sign.ManifestFile))
		require.NoError(t, json.Unmarshal(b, &m))
		_, _, err = sign.Seal(dir, m, other)
		require.NoError(t, err)
		trusted, err := sign.ParsePublicKey([]byte(pub))
		require.NoError(t, err)
		v, err := sign.Verify(dir, trusted)
		require.NoError(t, err)
		require.False(t, v.OK(), "a bundle signed by another key must not verify against the trusted one")
		require.Contains(t, v.Err().Error(), "trusted key")
	})
	t.Run("extra and missing files", func(t *testing.T) {
		dir := copyDir(t, out)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644))
		require.NoError(t, os.Remove(filepath.Join(dir, render.FileSamples)))
		v, err := sign.Verify(dir, nil)
		require.NoError(t, err)
		var files []string
		for _, p := range v.Problems {
			files = append(files, p.File)
		}
		require.ElementsMatch(t, []string{"extra.txt", render.FileSamples}, files)
	})
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	return dst
}

func TestRunRefusesBadRequests(t *testing.T) {
	eng := compliancetest.Engine(t)
	cfg := testConfig(t)
	from := day()
	for name, tc := range map[string]struct {
		req  compliance.RunRequest
		want string
	}{
		"unknown framework": {compliance.RunRequest{Framework: "pci", From: from, To: from.Add(time.Hour), OutDir: t.TempDir()}, `unknown framework "pci"`},
		"empty period":      {compliance.RunRequest{Framework: "soc2", From: from, To: from, OutDir: t.TempDir()}, "must be before"},
		"no output":         {compliance.RunRequest{Framework: "soc2", From: from, To: from.Add(time.Hour)}, "no output directory"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.req.Config = cfg
			_, err := compliance.Run(context.Background(), eng, tc.req)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := compliance.Default()
	require.NoError(t, ok.Validate())
	for name, tc := range map[string]struct {
		edit func(*compliance.Config)
		want string
	}{
		"bad cron": {func(c *compliance.Config) {
			c.Schedules = []compliance.Schedule{{Name: "d", Framework: "soc2", Cron: "61 * * * *", Period: "day"}}
		}, "schedules[0].cron"},
		"bad framework": {func(c *compliance.Config) {
			c.Schedules = []compliance.Schedule{{Name: "d", Framework: "pci", Cron: "0 1 * * *", Period: "day"}}
		}, "schedules[0].framework"},
		"bad period": {func(c *compliance.Config) {
			c.Schedules = []compliance.Schedule{{Name: "d", Framework: "soc2", Cron: "0 1 * * *", Period: "year"}}
		}, "schedules[0].period"},
		"duplicate schedule": {func(c *compliance.Config) {
			s := compliance.Schedule{Name: "d", Framework: "soc2", Cron: "0 1 * * *", Period: "day"}
			c.Schedules = []compliance.Schedule{s, s}
		}, `schedules[1].name: "d" is used twice`},
		"webhook": {func(c *compliance.Config) { c.Webhook.URL = "ftp://x" }, "webhook.url"},
		"empty scope pattern": {func(c *compliance.Config) {
			c.Scope.Services = []string{"orders", ""}
		}, "scope.services[1]: empty pattern"},
		"threshold": {func(c *compliance.Config) { c.Checks.PeerIdentity.MinShare = 2 }, "checks.peer_identity.min_share"},
		"cert days": {func(c *compliance.Config) { c.Checks.CertExpiry.WarnDays = 3 }, "checks.cert_expiry.warn_days"},
		"waiver without expiry": {func(c *compliance.Config) {
			c.Waivers = append(c.Waivers, compliancetestWaiver())
		}, "waivers[0].expires"},
		"waiver for no check": {func(c *compliance.Config) {
			w := compliancetestWaiver()
			w.Check, w.Expires = "nope", time.Now()
			c.Waivers = append(c.Waivers, w)
		}, "waivers[0].check"},
	} {
		t.Run(name, func(t *testing.T) {
			c := compliance.Default()
			tc.edit(&c)
			err := c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestPeriodOf(t *testing.T) {
	at := time.Date(2025, 3, 12, 1, 0, 0, 0, time.UTC) // a Wednesday
	for _, tc := range []struct{ period, from, to string }{
		{"day", "2025-03-11", "2025-03-12"},
		{"week", "2025-03-03", "2025-03-10"},
		{"month", "2025-02-01", "2025-03-01"},
	} {
		from, to := compliance.PeriodOf(tc.period, at)
		require.Equal(t, tc.from, from.Format(time.DateOnly), tc.period)
		require.Equal(t, tc.to, to.Format(time.DateOnly), tc.period)
	}
	require.True(t, strings.HasPrefix(time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC).Weekday().String(), "Mon"))
}
