package schema

import (
	"errors"
	"regexp"
	"time"

	"github.com/tapline/tapline/config/configtype"
)

// Index layouts for the otel_* tables (Options.Indexes).
const (
	// IndexesAuto is Tapline's choice, currently IndexesBloom: on 11.4
	// million spans the bloom filters kept attribute searches within 1.5×
	// of the text indexes either way, and cost far less at insert
	// (docs/BENCHMARKS.md, "Storage").
	IndexesAuto = "auto"
	// IndexesText uses text indexes (tokenizer 'array'), the layout of the
	// OTel clickhouseexporter for ClickHouse 26.2 and later. It needs a
	// server with text indexes (26.2 or later, enable_full_text_index on).
	IndexesText = "text"
	// IndexesBloom uses bloom-filter indexes, the exporter's layout for
	// servers before 26.2.
	IndexesBloom = "bloom"
)

// Options configures how the schema is rendered: database, cluster mode,
// index layout and retention. It is embedded in Tapline's configuration
// (YAML keys in the struct tags).
type Options struct {
	// Database holds all of Tapline's tables (default tapline). Migrate
	// needs it to be the engine's database; empty means the engine's.
	Database string `yaml:"database"`
	// Cluster is the ClickHouse cluster name for ON CLUSTER DDL, replicated
	// local tables and Distributed tables. Empty means a single node.
	Cluster string `yaml:"cluster"`
	// Indexes is the skip-index layout of the otel_* tables: auto, text or
	// bloom.
	Indexes string `yaml:"indexes"`
	// Retention is how long each kind of row is kept.
	Retention Retention `yaml:"retention"`
}

// Retention is how long rows are kept, per table family. Zero keeps rows
// forever (no TTL clause). Values are whole seconds; Go duration syntax in
// YAML ("720h").
type Retention struct {
	// Traces applies to otel_traces and the tables derived from it.
	Traces time.Duration `yaml:"traces"`
	// Logs applies to otel_logs.
	Logs time.Duration `yaml:"logs"`
	// AccessEvents applies to access_events and the tables derived from it.
	AccessEvents time.Duration `yaml:"access_events"`
	// TLSConnections applies to tls_connections and its copy by id.
	TLSConnections time.Duration `yaml:"tls_connections"`
	// Ledger applies to ingest_ledger. Default 0: reports cite the ledger.
	Ledger time.Duration `yaml:"ledger"`
	// Compliance applies to compliance_runs and compliance_findings.
	// Default 0.
	Compliance time.Duration `yaml:"compliance"`
}

// DefaultDatabase is the database Render uses when Options.Database is empty.
const DefaultDatabase = "tapline"

// DefaultOptions returns the defaults: database tapline, a single node,
// index layout picked by server version, 30 days of traces, logs, access
// events and TLS connections, ledger and compliance kept forever.
func DefaultOptions() Options {
	const day = 24 * time.Hour
	return Options{
		Database: DefaultDatabase,
		Indexes:  IndexesAuto,
		Retention: Retention{
			Traces:         30 * day,
			Logs:           30 * day,
			AccessEvents:   30 * day,
			TLSConnections: 30 * day,
		},
	}
}

var (
	identRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	clusterRE = regexp.MustCompile(`^[A-Za-z0-9_.{}-]+$`)
)

// Validate checks the options. Each error is a configtype.FieldError whose
// key is the YAML key relative to Options ("retention.traces").
func (o Options) Validate() error {
	var errs []error
	if o.Database != "" && !identRE.MatchString(o.Database) {
		errs = append(errs, configtype.Errorf("database", "%q must be letters, digits and underscores, not starting with a digit", o.Database))
	}
	if o.Cluster != "" && !clusterRE.MatchString(o.Cluster) {
		errs = append(errs, configtype.Errorf("cluster", "%q must be letters, digits, '_', '.', '-' or a {macro}", o.Cluster))
	}
	switch o.Indexes {
	case "", IndexesAuto, IndexesText, IndexesBloom:
	default:
		errs = append(errs, configtype.Errorf("indexes", "%q must be auto, text or bloom", o.Indexes))
	}
	for _, r := range o.Retention.fields() {
		switch {
		case r.ttl < 0:
			errs = append(errs, configtype.Errorf("retention."+r.key, "must be >= 0, got %s", r.ttl))
		case r.ttl%time.Second != 0:
			errs = append(errs, configtype.Errorf("retention."+r.key, "must be a whole number of seconds, got %s", r.ttl))
		}
	}
	return errors.Join(errs...)
}

type retentionField struct {
	key string
	ttl time.Duration
}

func (r Retention) fields() []retentionField {
	return []retentionField{
		{"traces", r.Traces},
		{"logs", r.Logs},
		{"access_events", r.AccessEvents},
		{"tls_connections", r.TLSConnections},
		{"ledger", r.Ledger},
		{"compliance", r.Compliance},
	}
}

// of returns the retention configured under key (a Retention YAML key).
func (r Retention) of(key string) time.Duration {
	for _, f := range r.fields() {
		if f.key == key {
			return f.ttl
		}
	}
	return 0
}
