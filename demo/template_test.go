package demo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
	"github.com/tapline/tapline/demo/pki"
)

func TestRenderTemplate(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		vars       map[string]string
		want       string
		err        string
	}{
		{name: "replaces", text: "listen ${A} ssl; server ${B_2};", vars: map[string]string{"A": "443", "B_2": "x:1"}, want: "listen 443 ssl; server x:1;"},
		{name: "leaves nginx variables", text: `"$request_id" $host ${A}`, vars: map[string]string{"A": "v"}, want: `"$request_id" $host v`},
		{name: "repeated", text: "${A}/${A}", vars: map[string]string{"A": "d"}, want: "d/d"},
		{name: "values are not rendered again", text: "${A}", vars: map[string]string{"A": "${B}"}, want: "${B}"},
		{name: "missing named once", text: "${A} ${B} ${A} ${C}", vars: map[string]string{"B": "b"}, err: "template: no value for A, C"},
		{name: "no placeholders", text: "plain", want: "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderTemplate(tc.text, tc.vars)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// The template's placeholders are the ones its header documents and the
// stack fills in.
func TestNginxTemplatePlaceholders(t *testing.T) {
	tmpl, err := ConfigFile(NginxTemplateFile)
	require.NoError(t, err)
	want := []string{"SYSLOG_ADDR", "PROXY_ADDR", "NGINX_LISTEN", "NGINX_SERVER_NAME", "NGINX_TLS_DIR", "PROXY_SERVER_NAME"}
	assert.ElementsMatch(t, want, Placeholders(string(tmpl)))
	for _, name := range want {
		assert.Contains(t, string(tmpl), "#   "+name+" ", "documented in the header")
	}
}

// The template logs the format the nginx receiver is tested with, word for
// word.
func TestNginxTemplateLogFormat(t *testing.T) {
	tmpl, err := ConfigFile(NginxTemplateFile)
	require.NoError(t, err)
	assert.Contains(t, string(tmpl), accesslog.NginxLogFormat+"\n")
	assert.Contains(t, string(tmpl), "access_log syslog:server=${SYSLOG_ADDR},tag=nginx tapline;")
}

// The rendered configuration, with the demo's certificates, passes Debian's
// nginx -t.
func TestNginxConfigLoads(t *testing.T) {
	bin, err := Nginx()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v (make test installs it)", err)
		}
		t.Skipf("%v; skipping (under CI=true this fails)", err)
	}
	dir := t.TempDir()
	certs := filepath.Join(dir, "tls")
	_, err = pki.Ensure(certs, nil, time.Now())
	require.NoError(t, err)
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"conf.d", "logs", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(prefix, d), 0o750))
	}
	tmpl, err := ConfigFile(NginxTemplateFile)
	require.NoError(t, err)
	conf, err := RenderTemplate(string(tmpl), map[string]string{
		"NGINX_LISTEN": "127.0.0.1:1", "NGINX_SERVER_NAME": "localhost", "NGINX_TLS_DIR": certs,
		"PROXY_ADDR": "127.0.0.1:2", "PROXY_SERVER_NAME": "localhost", "SYSLOG_ADDR": "127.0.0.1:3",
	})
	require.NoError(t, err)
	require.NotContains(t, conf, "${")
	require.NoError(t, os.WriteFile(filepath.Join(prefix, "conf.d", "tapline.conf"), []byte(conf), 0o600))
	main := filepath.Join(prefix, "nginx.conf")
	require.NoError(t, os.WriteFile(main, []byte(nginxMain(prefix, os.Geteuid() == 0)), 0o600))
	out, err := exec.Command(bin, "-t", "-p", prefix, "-c", main, "-e", filepath.Join(prefix, "logs", "error.log")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.Contains(string(out), "test is successful"), "%s", out)
}
