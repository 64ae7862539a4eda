package configtype_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/config/configtype"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want configtype.ByteSize
		err  bool
	}{
		{"1048576", 1 << 20, false},
		{"10GiB", 10 << 30, false},
		{"10gib", 10 << 30, false},
		{"512MB", 512e6, false},
		{"1.5KiB", 1536, false},
		{"2g", 2 << 30, false},
		{"100B", 100, false},
		{"", 0, true},
		{"ten", 0, true},
		{"5XB", 0, true},
		{"1e30TiB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := configtype.ParseByteSize(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestByteSizeYAMLRoundTrip(t *testing.T) {
	for _, v := range []configtype.ByteSize{0, 1, 1000, 1 << 10, 10 << 30, 3 << 40, 1<<20 + 1} {
		out, err := yaml.Marshal(map[string]configtype.ByteSize{"v": v})
		require.NoError(t, err)
		var back map[string]configtype.ByteSize
		require.NoError(t, yaml.Unmarshal(out, &back), string(out))
		assert.Equal(t, v, back["v"], string(out))
	}
	var fromInt struct {
		V configtype.ByteSize `yaml:"v"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("v: 4096"), &fromInt))
	assert.Equal(t, configtype.ByteSize(4096), fromInt.V)
}

func TestSecretIsMasked(t *testing.T) {
	type section struct {
		Password configtype.Secret `yaml:"password"`
		Empty    configtype.Secret `yaml:"empty"`
	}
	var s section
	require.NoError(t, yaml.Unmarshal([]byte("password: 12345\nempty: ''\n"), &s))
	assert.Equal(t, "12345", s.Password.Value())

	out, err := yaml.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "12345")
	assert.Contains(t, string(out), "password: '[REDACTED]'")
	assert.Contains(t, string(out), `empty: ""`)
	for _, format := range []string{"%v", "%s", "%+v", "%#v"} {
		assert.NotContains(t, fmt.Sprintf(format, s), "12345", format)
	}
}

func TestInSection(t *testing.T) {
	err := errors.Join(
		configtype.Errorf("max_age", "must be > 0"),
		configtype.InSection("embedded", configtype.Errorf("listen", "bad")),
		errors.New("plain"),
	)
	got := configtype.InSection("bus", err)
	assert.Equal(t, "bus.max_age: must be > 0; bus.embedded.listen: bad; bus: plain", configtype.OneLine(got))
	assert.NoError(t, configtype.InSection("bus", nil))
	var fe *configtype.FieldError
	require.ErrorAs(t, got, &fe)
	assert.Equal(t, "bus.max_age", fe.Key)
}

func TestDSNMasksPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"clickhouse://ch:9000/tapline", "clickhouse://ch:9000/tapline"},
		{"clickhouse://user:p%40ss@ch:9000/tapline?secure=true", "clickhouse://user:xxxxx@ch:9000/tapline?secure=true"},
		{"clickhouse://user@ch:9000", "clickhouse://user@ch:9000"},
		{"https://ch:8443/?username=u&password=hunter2", "https://ch:8443/?password=xxxxx&username=u"},
		{"::not a url", configtype.Masked},
	}
	for _, tt := range tests {
		d := configtype.DSN(tt.in)
		assert.Equal(t, tt.want, d.String(), tt.in)
		out, err := d.MarshalText()
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(out))
		assert.Equal(t, tt.in, d.Value())
	}
}
