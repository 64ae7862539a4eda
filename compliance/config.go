package compliance

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/config/configtype"
)

// Config is the compliance section of Tapline's configuration (YAML key
// compliance).
type Config struct {
	// OutputDir receives the bundles of scheduled runs, one directory per
	// run under OutputDir/<schedule>/. Empty: DATA_DIR/reports.
	OutputDir string `yaml:"output_dir"`
	// SigningKey is the Ed25519 private key (PKCS #8 PEM) that signs
	// manifests, created with mode 0600 on first use. Empty:
	// DATA_DIR/compliance/signing.key.
	SigningKey string `yaml:"signing_key"`
	// UIBaseURL prefixes the links from samples to the UI
	// (UIBaseURL/trace/<id>, UIBaseURL/request/<id>).
	UIBaseURL string `yaml:"ui_base_url"`
	// Scope is what the reports cover: a label and the services and tap
	// listeners every check is limited to (empty lists: everything).
	Scope report.Scope `yaml:"scope"`
	// Samples is the most samples shown per exception.
	Samples int `yaml:"samples"`
	// Seed orders the samples; 0 derives it from the framework and period,
	// so a report run again for the same period shows the same samples.
	Seed uint64 `yaml:"seed"`
	// MaxCatchUp caps the missed runs of one schedule caught up on start
	// (the most recent ones).
	MaxCatchUp int        `yaml:"max_catch_up"`
	Webhook    Webhook    `yaml:"webhook"`
	Schedules  []Schedule `yaml:"schedules"`
	// Checks holds every check's thresholds and declared sets.
	Checks checks.Config `yaml:"checks"`
	// Waivers are accepted exceptions; they show in every report.
	Waivers []checks.Waiver `yaml:"waivers"`
}

// Webhook receives each scheduled run's manifest (POST, JSON, with the
// signature in the X-Tapline-Signature header).
type Webhook struct {
	// URL is where to POST; empty disables the webhook.
	URL string `yaml:"url"`
	// BearerToken, when set, is sent as Authorization: Bearer.
	BearerToken configtype.Secret `yaml:"bearer_token"`
	Timeout     time.Duration     `yaml:"timeout"`
}

// Periods a schedule can report on: the full day, ISO week (from Monday)
// or calendar month before the one the schedule fires in (UTC).
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// Schedule runs a framework's report on a cron schedule.
type Schedule struct {
	// Name identifies the schedule in compliance_runs and the output path.
	Name      string `yaml:"name"`
	Framework string `yaml:"framework"`
	// Cron is a five-field cron expression in UTC ("0 1 * * *").
	Cron string `yaml:"cron"`
	// Period is day, week or month: the one before the firing time.
	Period string `yaml:"period"`
}

// Default returns the defaults: no schedules, ten samples per exception,
// links to the UI on the default HTTP address.
func Default() Config {
	return Config{
		UIBaseURL:  "http://127.0.0.1:8080",
		Scope:      report.Scope{Name: "all services reporting to this Tapline", Services: []string{}, Listeners: []string{}},
		Samples:    10,
		MaxCatchUp: 31,
		Webhook:    Webhook{Timeout: 10 * time.Second},
		Schedules:  []Schedule{},
		Checks:     checks.Default(),
		Waivers:    []checks.Waiver{},
	}
}

// WithDataDir fills the paths left empty with their places under dataDir.
func (c Config) WithDataDir(dataDir string) Config {
	if c.OutputDir == "" {
		c.OutputDir = filepath.Join(dataDir, "reports")
	}
	if c.SigningKey == "" {
		c.SigningKey = filepath.Join(dataDir, "compliance", "signing.key")
	}
	return c
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate checks the section; keys in errors are relative to it.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, configtype.Errorf(key, format, args...)) }
	if u, err := url.Parse(c.UIBaseURL); err != nil || (c.UIBaseURL != "" && u.Scheme == "" && u.Path == "") {
		add("ui_base_url", "%q is not a URL", c.UIBaseURL)
	}
	if c.Samples < 0 || c.Samples > 1000 {
		add("samples", "must be between 0 and 1000, got %d", c.Samples)
	}
	if c.MaxCatchUp < 0 {
		add("max_catch_up", "must be >= 0, got %d", c.MaxCatchUp)
	}
	if c.Webhook.URL != "" {
		if u, err := url.Parse(c.Webhook.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("webhook.url", "want an http or https URL, got %q", c.Webhook.URL)
		}
	}
	if c.Webhook.Timeout <= 0 {
		add("webhook.timeout", "must be > 0, got %s", c.Webhook.Timeout)
	}
	cat, err := catalog.Load()
	if err != nil {
		errs = append(errs, err)
	}
	names := map[string]bool{}
	for i, s := range c.Schedules {
		key := fmt.Sprintf("schedules[%d]", i)
		switch {
		case s.Name == "":
			add(key+".name", "is required")
		case !nameRE.MatchString(s.Name):
			add(key+".name", "%q must be letters, digits, '-' and '_'", s.Name)
		case names[s.Name]:
			add(key+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		if cat != nil {
			if _, err := cat.Framework(s.Framework); err != nil {
				add(key+".framework", "%v", err)
			}
		}
		if _, err := cronParser.Parse(s.Cron); err != nil {
			add(key+".cron", "%q: %v", s.Cron, err)
		}
		switch s.Period {
		case PeriodDay, PeriodWeek, PeriodMonth:
		default:
			add(key+".period", "%q is not one of day, week, month", s.Period)
		}
	}
	errs = append(errs, configtype.InSection("scope", c.Scope.Validate()))
	errs = append(errs, configtype.InSection("checks", c.Checks.Validate()))
	errs = append(errs, checks.ValidateWaivers(c.Waivers))
	return errors.Join(errs...)
}
