package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/catalog"
)

func TestEmbeddedCatalog(t *testing.T) {
	c, err := catalog.Load()
	require.NoError(t, err)
	want := map[string][]string{
		"soc2":     {"CC2.1", "CC4.1", "CC6.1", "CC6.2", "CC6.3", "CC6.6", "CC6.7", "CC7.1", "CC7.2", "CC7.3", "A1.2"},
		"iso27001": {"5.15", "5.16", "5.17", "5.18", "5.28", "5.33", "8.2", "8.5", "8.15", "8.16", "8.17", "8.20", "8.21", "8.22", "8.24"},
	}
	for id, controls := range want {
		fw, err := c.Framework(id)
		require.NoError(t, err)
		var got []string
		for _, ctl := range fw.Controls {
			got = append(got, ctl.ID)
		}
		require.Equal(t, controls, got, id)
	}
	require.Len(t, c.Checks, 17)
	for i, ch := range c.Checks {
		require.Equal(t, i+1, ch.Number, ch.ID)
	}
	iso, _ := c.Framework("iso27001")
	require.Equal(t, "a.8.24", iso.OSCALControlID("8.24"))
	require.Equal(t, []string{"5.15", "5.18", "8.2"}, iso.ControlsOf("privileged_routes"))
}

func TestParseRejects(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown check": {`
frameworks: [{id: f, name: F, controls: [{id: C1, title: T, checks: [nope]}]}]
checks: []`, `unknown check "nope"`},
		"unused check": {`
frameworks: [{id: f, name: F, controls: [{id: C1, title: T, checks: [a]}]}]
checks: [{id: a, title: A, population: p, method: m}, {id: b, title: B, population: p, method: m}]`, `check "b" serves no control`},
		"unknown key": {`frameworks: [{id: f, nme: F}]`, "field nme not found"},
		"duplicate control": {`
frameworks: [{id: f, name: F, controls: [{id: C1, title: T, checks: [a]}, {id: C1, title: T, checks: [a]}]}]
checks: [{id: a, title: A, population: p, method: m}]`, `control "C1" listed twice`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := catalog.Parse([]byte(tc.yaml))
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := catalog.Load()
	require.NoError(t, err)
	c, _ := catalog.Load()
	_, err = c.Framework("pci")
	require.ErrorContains(t, err, `unknown framework "pci"`)
}
