package nginxreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	require.NoError(t, componenttest.CheckConfigStruct(createDefaultConfig()))

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(Type), want: createDefaultConfig().(*Config)},
		{
			id: component.NewIDWithName(Type, "all"),
			want: &Config{
				Syslog: SyslogConfig{UDP: "127.0.0.1:5514", TCP: "127.0.0.1:5515"},
				Files: FilesConfig{
					Include: []string{"/var/log/nginx/access.log"}, StartAt: StartAtBeginning,
					PollInterval: time.Second, RotationGrace: 10 * time.Second,
				},
				StorageDir: "/var/lib/tapline/collector", MaxLineBytes: 16384, ServiceName: "edge", Node: "edge-1",
			},
		},
		{id: component.NewIDWithName(Type, "files_without_storage"), wantErr: []string{"storage_dir is required when files.include is set"}},
		{
			id: component.NewIDWithName(Type, "bad"),
			wantErr: []string{
				"syslog.udp: address no-port: missing port in address",
				"files.include[0] must not be empty",
				`files.include[2]: "/a" listed twice`,
				`files.start_at must be "beginning" or "end", not "middle"`,
				"files.poll_interval must be > 0",
				"max_line_bytes must be >= 1024",
			},
		},
		{id: component.NewIDWithName(Type, "nothing"), wantErr: []string{"at least one of syslog.udp, syslog.tcp or files.include must be set"}},
		{id: component.NewIDWithName(Type, "unknown_key"), wantErr: []string{"upd"}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					require.ErrorContains(t, err, w)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}
