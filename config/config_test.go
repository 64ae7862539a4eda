package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/collector"
	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/store/schema"
	"github.com/tapline/tapline/ui"
)

func fullConfig() config.Config {
	const day = 24 * time.Hour
	return config.Config{
		DataDir: "/var/lib/tapline",
		Log:     config.Log{Level: "debug", Format: "json"},
		HTTP: config.HTTP{
			Addr: "0.0.0.0:9080",
			TLS: configtype.TLSServer{
				Cert: "/etc/tapline/tls/http.crt", Key: "/etc/tapline/tls/http.key",
				ClientCA: "/etc/tapline/tls/clients.pem",
			},
		},
		Store: config.Store{
			Engine: "clickhouse",
			CHDB:   config.CHDB{Library: "/opt/chdb/libchdb.so", Path: "/srv/clickhouse", Connections: 8},
			ClickHouse: config.ClickHouse{
				DSN:         "clickhouse://ch-1.internal:9440/?dial_timeout=5s",
				Username:    "tapline",
				Password:    "s3cret: with colon",
				TLS:         configtype.TLSClient{Enabled: true, CA: "/etc/tapline/tls/ch-ca.pem", ServerName: "ch.internal"},
				MaxConns:    20,
				DialTimeout: 3 * time.Second,
			},
			Schema: schema.Options{
				Database: "observability",
				Cluster:  "prod",
				Indexes:  "bloom",
				Retention: schema.Retention{
					Traces: 7 * day, Logs: 3 * day, AccessEvents: 90 * day,
					TLSConnections: 30 * day, Ledger: 0, Compliance: 365 * day,
				},
			},
		},
		Bus: bus.Config{
			URL:             "tls://nats-1:4222,tls://nats-2:4222",
			CredentialsFile: "/etc/tapline/nats.creds",
			TLS:             configtype.TLSClient{CA: "/etc/tapline/tls/nats-ca.pem"},
			Embedded:        bus.EmbeddedConfig{Listen: "127.0.0.1:14222", StoreDir: "/srv/nats"},
			Stream: bus.StreamConfig{
				MaxAge: 24 * time.Hour, MaxBytes: 50 << 30, DuplicateWindow: 5 * time.Minute, Replicas: 3,
			},
		},
		Ingest:     ingest.Default(),
		Query:      query.Default(),
		Collector:  collector.Default(),
		Compliance: compliance.Default(),
		Proxy:      proxy.Default(),
		UI:         ui.Default(),
	}
}

func TestParseFiles(t *testing.T) {
	partial := config.Default()
	partial.HTTP.Addr = "127.0.0.1:18080"
	partial.Bus.Stream.MaxBytes = 1 << 30

	tests := []struct {
		file string
		want config.Config
	}{
		{"full.yaml", fullConfig()},
		{"partial.yaml", partial},
		{"empty.yaml", config.Default()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := config.Parse(config.Sources{File: filepath.Join("testdata", tt.file)})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := config.Default()
	assert.Equal(t, "tapline-data", cfg.DataDir)
	assert.Equal(t, "127.0.0.1:8080", cfg.HTTP.Addr)
	assert.Equal(t, "chdb", cfg.Store.Engine)
	assert.Equal(t, schema.DefaultOptions(), cfg.Store.Schema)
	assert.Equal(t, bus.Default(), cfg.Bus)
	assert.Equal(t, "127.0.0.1:4222", cfg.Bus.Embedded.Listen)
	cfg.DataDir = t.TempDir()
	require.NoError(t, cfg.Validate())
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join("testdata", "partial.yaml")
	dir := t.TempDir()
	tests := []struct {
		name string
		src  config.Sources
		addr string
	}{
		{"default", config.Sources{}, "127.0.0.1:8080"},
		{"file over default", config.Sources{File: file}, "127.0.0.1:18080"},
		{"env over file", config.Sources{File: file, Env: []string{"TAPLINE_HTTP_ADDR=127.0.0.1:28080"}}, "127.0.0.1:28080"},
		{"flag over env", config.Sources{
			File: file,
			Env:  []string{"TAPLINE_HTTP_ADDR=127.0.0.1:28080"},
			Set:  []string{"http.addr=127.0.0.1:38080"},
		}, "127.0.0.1:38080"},
		{"later flag wins", config.Sources{Set: []string{"http.addr=127.0.0.1:1", "http.addr=127.0.0.1:2"}}, "127.0.0.1:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src.Set = append([]string{"data_dir=" + dir}, tt.src.Set...)
			cfg, err := config.Load(tt.src)
			require.NoError(t, err)
			assert.Equal(t, tt.addr, cfg.HTTP.Addr)
			// What the file does not set keeps the default.
			assert.Equal(t, config.Default().Bus.Stream.MaxAge, cfg.Bus.Stream.MaxAge)
		})
	}
}

func TestEnvCoversEveryKey(t *testing.T) {
	env := []string{
		"PATH=/usr/bin", // not ours
		"TAPLINE_LIBCHDB=/x/libchdb.so",
		"TAPLINE_PYTHON=/usr/bin/python3",
		"TAPLINE_CONFIG=/x/tapline.yaml",
		"TAPLINE_TEST_CLICKHOUSE_DSN=clickhouse://x",
		"TAPLINE_DATA_DIR=/data",
		"TAPLINE_LOG_LEVEL=warn",
		"TAPLINE_STORE_ENGINE=clickhouse",
		"TAPLINE_STORE_CLICKHOUSE_DSN=clickhouse://u:pw@ch:9000/",
		"TAPLINE_STORE_CLICKHOUSE_PASSWORD=hunter2",
		"TAPLINE_STORE_CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY=true",
		"TAPLINE_STORE_CHDB_CONNECTIONS=2",
		"TAPLINE_STORE_SCHEMA_RETENTION_TRACES=48h",
		"TAPLINE_BUS_STREAM_MAX_BYTES=2GiB",
		"TAPLINE_BUS_STREAM_DUPLICATE_WINDOW=30s",
		"TAPLINE_BUS_EMBEDDED_LISTEN=127.0.0.1:0",
		"TAPLINE_BUS_USER=0123", // stays a string
	}
	cfg, err := config.Parse(config.Sources{Env: env})
	require.NoError(t, err)
	want := config.Default()
	want.DataDir = "/data"
	want.Log.Level = "warn"
	want.Store.Engine = "clickhouse"
	want.Store.ClickHouse.DSN = "clickhouse://u:pw@ch:9000/"
	want.Store.ClickHouse.Password = "hunter2"
	want.Store.ClickHouse.TLS.InsecureSkipVerify = true
	want.Store.CHDB.Connections = 2
	want.Store.Schema.Retention.Traces = 48 * time.Hour
	want.Bus.Stream.MaxBytes = 2 << 30
	want.Bus.Stream.DuplicateWindow = 30 * time.Second
	want.Bus.Embedded.Listen = "127.0.0.1:0"
	want.Bus.User = "0123"
	assert.Equal(t, want, cfg)

	// Every key has a distinct variable, derived from its path.
	seen := map[string]string{}
	for _, k := range config.Keys() {
		name := config.EnvName(k)
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s share %s", k, other, name)
		}
		seen[name] = k
	}
	assert.Equal(t, "store.clickhouse.dsn", seen["TAPLINE_STORE_CLICKHOUSE_DSN"])
	assert.Equal(t, "http.addr", seen["TAPLINE_HTTP_ADDR"])
	assert.Equal(t, "data_dir", seen["TAPLINE_DATA_DIR"])
}

func TestBadSources(t *testing.T) {
	tests := []struct {
		name    string
		src     config.Sources
		wantErr string
	}{
		{"unknown key", config.Sources{File: "testdata/bad_unknown_key.yaml"},
			`testdata/bad_unknown_key.yaml:4: unknown key "http.adr" (known keys in http: addr, tls)`},
		{"unknown top-level key", config.Sources{File: "testdata/bad_unknown_top.yaml"},
			`testdata/bad_unknown_top.yaml:2: unknown key "colector"`},
		{"bad type", config.Sources{File: "testdata/bad_type.yaml"},
			"testdata/bad_type.yaml:3: bus.stream.max_age: "},
		{"bad syntax", config.Sources{File: "testdata/bad_syntax.yaml"},
			"testdata/bad_syntax.yaml: "},
		{"missing file", config.Sources{File: "testdata/nope.yaml"},
			"config file: open testdata/nope.yaml: no such file"},
		{"unknown env", config.Sources{Env: []string{"TAPLINE_HTTP_ADR=x"}},
			"environment variable TAPLINE_HTTP_ADR matches no configuration key"},
		{"bad env value", config.Sources{Env: []string{"TAPLINE_BUS_STREAM_MAX_AGE=soon"}},
			"TAPLINE_BUS_STREAM_MAX_AGE: bus.stream.max_age: "},
		{"bad env size", config.Sources{Env: []string{"TAPLINE_BUS_STREAM_MAX_BYTES=lots"}},
			`bus.stream.max_bytes: invalid byte size "lots"`},
		{"unknown flag key", config.Sources{Set: []string{"http.port=1"}}, `unknown key "http.port"`},
		{"flag without value", config.Sources{Set: []string{"http.addr"}}, "want key=value"},
		{"bad flag value", config.Sources{Set: []string{"store.chdb.connections=many"}}, "store.chdb.connections: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.src)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(aFile, nil, 0o600))

	tests := []struct {
		name    string
		src     config.Sources
		wantErr []string
	}{
		{"bad port", config.Sources{File: "testdata/bad_port.yaml"}, []string{`http.addr: invalid port "99999"`}},
		{"several problems", config.Sources{File: "testdata/bad_values.yaml"}, []string{
			`log.level: "loud" is not one of debug, info, warn, error`,
			`store.engine: "postgres" is not one of chdb, clickhouse`,
			`bus.stream.replicas: must be between 1 and 5, got 0`,
		}},
		{"data dir is a file", config.Sources{Set: []string{"data_dir=" + aFile}}, []string{"data_dir: ", "is not a directory"}},
		{"data dir under a file", config.Sources{Set: []string{"data_dir=" + filepath.Join(aFile, "data")}}, []string{"data_dir: ", "not a directory"}},
		{"empty data dir", config.Sources{Set: []string{"data_dir="}}, []string{"data_dir: must not be empty"}},
		{"clickhouse without dsn", config.Sources{Set: []string{"store.engine=clickhouse"}}, []string{"store.clickhouse.dsn: required"}},
		{"cluster on chdb", config.Sources{Set: []string{"store.schema.cluster=prod"}}, []string{"store.schema.cluster: needs engine clickhouse"}},
		{"schema options", config.Sources{Set: []string{"store.schema.indexes=hash"}}, []string{`store.schema.indexes: "hash" must be auto, text or bloom`}},
		{"http tls half", config.Sources{Set: []string{"http.tls.cert=/x.crt"}}, []string{"http.tls.key: required when cert is set"}},
		{"missing libchdb", config.Sources{Set: []string{"store.chdb.library=/nonexistent/libchdb.so"}}, []string{`store.chdb.library: cannot read "/nonexistent/libchdb.so"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(strings.Join(tt.src.Set, " "), "data_dir=") {
				tt.src.Set = append([]string{"data_dir=" + dir}, tt.src.Set...)
			}
			_, err := config.Load(tt.src)
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestUnreadableDataDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads and writes any directory: covered by the not-a-directory cases")
	}
	dir := filepath.Join(t.TempDir(), "locked")
	require.NoError(t, os.Mkdir(dir, 0o000))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	_, err := config.Load(config.Sources{Set: []string{"data_dir=" + dir}})
	require.ErrorContains(t, err, "data_dir: ")
	require.ErrorContains(t, err, "is not readable and writable")

	_, err = config.Load(config.Sources{Set: []string{"data_dir=" + filepath.Join(dir, "sub")}})
	require.ErrorContains(t, err, "data_dir: cannot create")
}

func TestMarshalMasksSecretsAndRoundTrips(t *testing.T) {
	cfg := fullConfig()
	cfg.Store.ClickHouse.DSN = "clickhouse://admin:dsnpw@ch:9000/"
	cfg.Bus.Token = "tok-secret"
	out, err := config.Marshal(cfg)
	require.NoError(t, err)
	text := string(out)
	for _, secret := range []string{"s3cret", "dsnpw", "tok-secret"} {
		assert.NotContains(t, text, secret)
	}
	assert.Contains(t, text, "max_age: 24h0m0s")
	assert.Contains(t, text, "max_bytes: 50GiB")
	assert.Contains(t, text, "password: '[REDACTED]'")

	// Printed output loads back into the same configuration, secrets aside.
	file := filepath.Join(t.TempDir(), "printed.yaml")
	require.NoError(t, os.WriteFile(file, out, 0o600))
	back, err := config.Parse(config.Sources{File: file})
	require.NoError(t, err)
	cfg.Store.ClickHouse.DSN = "clickhouse://admin:xxxxx@ch:9000/"
	cfg.Store.ClickHouse.Password = configtype.Masked
	cfg.Bus.Token = configtype.Masked
	assert.Equal(t, cfg, back)

	assert.NotContains(t, cfg.String(), "dsnpw")
}

// The example configuration in README.md is a valid file.
func TestREADMEExampleLoads(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	require.True(t, ok, "README.md has a yaml block")
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	file := filepath.Join(t.TempDir(), "tapline.yaml")
	require.NoError(t, os.WriteFile(file, []byte(example), 0o600))
	cfg, err := config.Load(config.Sources{File: file, Set: []string{"data_dir=" + t.TempDir()}})
	require.NoError(t, err)
	assert.Equal(t, config.Default().Bus, cfg.Bus, "the README shows the bus defaults")
	assert.Equal(t, config.Default().Store.Schema, cfg.Store.Schema, "the README shows the schema defaults")
}

// A process validates only the sections it runs: the demo configuration
// names the proxy's certificate files under /etc/tapline/tls, which do not
// exist here, so the whole file is refused while `tapline ingest`'s
// sections load.
func TestValidateSections(t *testing.T) {
	file := filepath.Join("..", "demo", "config", "tapline.yaml")
	src := config.Sources{File: file, Set: []string{"data_dir=" + t.TempDir()}}

	_, err := config.Load(src)
	require.Error(t, err, "every section is validated by default")
	assert.Contains(t, err.Error(), "proxy.listeners[0].tls.cert")

	src.Sections = config.CommandSections("ingest")
	_, err = config.Load(src)
	require.NoError(t, err)

	src.Sections = []string{"ingest", "proxy"}
	_, err = config.Load(src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "proxy.listeners[0].tls.cert")

	src.Sections = []string{"ingest", "nope"}
	_, err = config.Load(src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no section "nope"`)

	// log and http are always checked: every process has them.
	src.Sections = []string{"ingest"}
	src.Set = append(src.Set, "log.level=loud")
	_, err = config.Load(src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log.level")
}
