package config

import (
	"errors"
	"net/url"
	"path/filepath"
	"time"

	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/store/schema"
)

// Storage engines (Store.Engine).
const (
	EngineCHDB       = "chdb"
	EngineClickHouse = "clickhouse"
)

// Store is the storage section: which ClickHouse engine, its settings, and
// the schema (database, cluster, index layout, retention).
type Store struct {
	// Engine is chdb (embedded, the default) or clickhouse (a server or
	// cluster at clickhouse.dsn).
	Engine     string         `yaml:"engine"`
	CHDB       CHDB           `yaml:"chdb"`
	ClickHouse ClickHouse     `yaml:"clickhouse"`
	Schema     schema.Options `yaml:"schema"`
}

// CHDB configures the embedded engine.
type CHDB struct {
	// Library is the path of libchdb.so. Empty: $TAPLINE_LIBCHDB, else the
	// cache `make libchdb` fills.
	Library string `yaml:"library"`
	// Path is ClickHouse's data directory; empty means DATA_DIR/clickhouse.
	Path string `yaml:"path"`
	// Connections is the size of the connection pool: queries on one
	// connection run one after another, so ingest, search and reports each
	// need their own.
	Connections int `yaml:"connections"`
}

// ClickHouse configures the ClickHouse server engine.
type ClickHouse struct {
	// DSN is the server's address:
	// clickhouse://host:9000/?dial_timeout=5s (native protocol). The
	// database comes from store.schema.database.
	DSN configtype.DSN `yaml:"dsn"`
	// Username and Password, when not in the DSN.
	Username string            `yaml:"username"`
	Password configtype.Secret `yaml:"password"`
	// TLS to the server.
	TLS configtype.TLSClient `yaml:"tls"`
	// MaxConns caps open connections; 0 means the engine's default (10).
	MaxConns int `yaml:"max_conns"`
	// DialTimeout bounds connecting to a server; 0 means the engine's
	// default (10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// DefaultStore is the embedded chDB engine with four connections and the
// schema's defaults.
func DefaultStore() Store {
	return Store{
		Engine: EngineCHDB,
		CHDB:   CHDB{Connections: 4},
		Schema: schema.DefaultOptions(),
	}
}

// CHDBPath is where the embedded engine keeps its data.
func (s Store) CHDBPath(dataDir string) string {
	if s.CHDB.Path != "" {
		return s.CHDB.Path
	}
	return filepath.Join(dataDir, "clickhouse")
}

// Validate checks the engine's settings and the schema options.
func (s Store) Validate() error {
	var errs []error
	switch s.Engine {
	case EngineCHDB:
		if s.CHDB.Connections < 1 || s.CHDB.Connections > 64 {
			errs = append(errs, configtype.Errorf("chdb.connections", "must be between 1 and 64, got %d", s.CHDB.Connections))
		}
		if s.CHDB.Library != "" {
			errs = append(errs, configtype.InSection("chdb", configtype.Readable("library", s.CHDB.Library)))
		}
		if s.Schema.Cluster != "" {
			errs = append(errs, configtype.Errorf("schema.cluster", "needs engine clickhouse: the embedded engine is a single node"))
		}
	case EngineClickHouse:
		errs = append(errs, configtype.InSection("clickhouse", s.ClickHouse.Validate()))
	default:
		errs = append(errs, configtype.Errorf("engine", "%q is not one of chdb, clickhouse", s.Engine))
	}
	errs = append(errs, configtype.InSection("schema", s.Schema.Validate()))
	return errors.Join(errs...)
}

// Validate checks the DSN, credentials and TLS files.
func (c ClickHouse) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, configtype.Errorf("dsn", "required when store.engine is clickhouse"))
	} else if u, err := url.Parse(c.DSN.Value()); err != nil || u.Host == "" {
		errs = append(errs, configtype.Errorf("dsn", "want clickhouse://host:9000/, got %q", c.DSN.String()))
	} else {
		switch u.Scheme {
		case "clickhouse", "tcp":
		default:
			errs = append(errs, configtype.Errorf("dsn", "unsupported scheme %q (want clickhouse:// or tcp://, the native protocol)", u.Scheme))
		}
		if u.User != nil && c.Username != "" {
			errs = append(errs, configtype.Errorf("username", "given both here and in dsn"))
		}
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, configtype.Errorf("password", "needs username"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, configtype.Errorf("max_conns", "must be >= 0, got %d", c.MaxConns))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, configtype.Errorf("dial_timeout", "must be >= 0, got %s", c.DialTimeout))
	}
	errs = append(errs, configtype.InSection("tls", c.TLS.Validate()))
	return errors.Join(errs...)
}
