package report_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/compliance/report"
)

func TestScopeYAML(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     report.Scope
		err      string
	}{
		{"label only", `scope: production`, report.Scope{Name: "production"}, ""},
		{"filters", "scope:\n  name: shop\n  services: [orders, 'pay*']\n  listeners: [public]\n",
			report.Scope{Name: "shop", Services: []string{"orders", "pay*"}, Listeners: []string{"public"}}, ""},
		{"unknown key", "scope:\n  name: shop\n  hosts: [a]\n", report.Scope{}, `unknown key "hosts"`},
		{"a list", "scope: [a]\n", report.Scope{}, "want a label or a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v struct {
				Scope report.Scope `yaml:"scope"`
			}
			err := yaml.Unmarshal([]byte(tc.in), &v)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v.Scope)
		})
	}
}

func TestScopeValidateAndString(t *testing.T) {
	require.NoError(t, report.Scope{}.Validate())
	require.ErrorContains(t, report.Scope{Services: []string{"a", " "}}.Validate(), "services[1]: empty pattern")
	require.Equal(t, "services: all; listeners: all", report.Scope{}.String())
	require.Equal(t, "prod (services: orders, pay*; listeners: all)",
		report.Scope{Name: "prod", Services: []string{"orders", "pay*"}}.String())
	require.True(t, report.Scope{Name: "x"}.All())
}
