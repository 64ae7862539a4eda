package nginxreceiver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/collector/nginxreceiver/nginxreceivertest"
)

// directive is one Nginx directive: the blocks it is in ("server/location",
// the http block left out: a snippet may show its inside only), its name
// and its arguments with quotes removed. log_format's format strings are
// joined into one, as Nginx joins them.
type directive struct {
	context string
	text    string
}

func (d directive) String() string { return d.context + ": " + d.text }

// parseNginx reads Nginx configuration text into its directives.
func parseNginx(conf string) ([]directive, error) {
	var (
		out   []directive
		stack []string
		words []string
		word  strings.Builder
		in    bool // inside a word
	)
	flush := func() {
		if in {
			words = append(words, word.String())
			word.Reset()
			in = false
		}
	}
	for i := 0; i < len(conf); i++ {
		c := conf[i]
		switch {
		case c == '#':
			flush()
			for i < len(conf) && conf[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			flush()
			j := i + 1
			for ; j < len(conf) && conf[j] != c; j++ {
				if conf[j] == '\\' {
					j++
				}
			}
			if j >= len(conf) {
				return nil, errors.New("unterminated quote")
			}
			words = append(words, conf[i+1:j])
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == ';' || c == '{':
			flush()
			if len(words) == 0 {
				return nil, fmt.Errorf("empty directive before %q", c)
			}
			if c == '{' {
				stack = append(stack, words[0])
			} else {
				out = append(out, directive{context: contextOf(stack), text: directiveText(words)})
			}
			words = nil
		case c == '}':
			flush()
			if len(words) > 0 || len(stack) == 0 {
				return nil, errors.New("unexpected }")
			}
			stack = stack[:len(stack)-1]
		default:
			word.WriteByte(c)
			in = true
		}
	}
	flush()
	if len(words) > 0 || len(stack) > 0 {
		return nil, errors.New("configuration ends inside a directive or block")
	}
	return out, nil
}

func contextOf(stack []string) string {
	var ctx []string
	for _, s := range stack {
		if s != "http" {
			ctx = append(ctx, s)
		}
	}
	return strings.Join(ctx, "/")
}

func directiveText(words []string) string {
	if words[0] == "log_format" && len(words) > 2 {
		head := words[:2]
		rest := words[2:]
		if strings.HasPrefix(rest[0], "escape=") {
			head, rest = words[:3], words[3:]
		}
		return strings.Join(head, " ") + " " + strings.Join(rest, "")
	}
	return strings.Join(words, " ")
}

// nginxBlocks returns the ```nginx code blocks of markdown text.
func nginxBlocks(t *testing.T, md string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)```nginx\n(.*?)```")
	var b strings.Builder
	for _, m := range re.FindAllStringSubmatch(md, -1) {
		b.WriteString(m[1])
		b.WriteString("\n")
	}
	require.NotEmpty(t, b.String(), "no ```nginx block")
	return b.String()
}

// section returns the markdown section under heading, up to the next heading
// of the same level.
func section(t *testing.T, md, heading string) string {
	t.Helper()
	start := strings.Index(md, "\n"+heading+"\n")
	require.NotEqual(t, -1, start, "heading %q", heading)
	rest := md[start+1+len(heading):]
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// documented are the directives of the tested configuration a user must
// copy: the log format, the syslog access_log line (at the default
// address), and the TLS server block's client-certificate and request-id
// lines. Paths and addresses are the test's own and are not compared.
func documented(t *testing.T) []directive {
	t.Helper()
	conf := nginxreceivertest.Config(nginxreceivertest.ConfigParams{
		Prefix: "/p", HTTP: "127.0.0.1:1", HTTPS: "127.0.0.1:2", Upstream: "127.0.0.1:3",
		ServerCert: "/p/server.pem", ServerKey: "/p/server-key.pem", ClientCA: "/p/ca.pem",
		SyslogAddr: DefaultUDPEndpoint,
	})
	all, err := parseNginx(conf)
	require.NoError(t, err)
	var out []directive
	seen := map[directive]bool{}
	for _, d := range all {
		name, _, _ := strings.Cut(d.text, " ")
		switch name {
		case "log_format", "access_log", "ssl_protocols", "ssl_verify_client", "proxy_pass", "proxy_set_header":
			if !seen[d] {
				out = append(out, d)
			}
			seen[d] = true
		}
	}
	require.Len(t, out, 6, "log_format, access_log, proxy_pass, proxy_set_header, ssl_protocols, ssl_verify_client:\n%s", conf)
	return out
}

// TestDocsMatchTestConfig: the Nginx snippets of README.md's Nginx section
// and of docs/nginx.md hold every directive of the configuration the
// real-Nginx tests run that a user must copy, in the same block, word for
// word (the log format field by field).
func TestDocsMatchTestConfig(t *testing.T) {
	want := documented(t)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "nginx.md"))
	require.NoError(t, err)
	for _, tc := range []struct{ name, snippet string }{
		{"README.md#nginx", nginxBlocks(t, section(t, string(readme), "## Nginx"))},
		{"docs/nginx.md", nginxBlocks(t, string(doc))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNginx(tc.snippet)
			require.NoError(t, err)
			have := map[directive]bool{}
			for _, d := range got {
				have[d] = true
			}
			for _, d := range want {
				require.True(t, have[d], "%s lacks %q (or it differs); its directives:\n%s", tc.name, d, listDirectives(got))
			}
		})
	}
}

func listDirectives(ds []directive) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestParseNginx(t *testing.T) {
	got, err := parseNginx(`
# comment
log_format x escape=json '{'
    '"a":"$a"'   # trailing comment
'}';
http { server { listen 80; location / { proxy_set_header "X-A" $b; } } }
`)
	require.NoError(t, err)
	require.Equal(t, []directive{
		{"", `log_format x escape=json {"a":"$a"}`},
		{"server", "listen 80"},
		{"server/location", "proxy_set_header X-A $b"},
	}, got)
	for _, bad := range []string{"a b", "a 'b;", "}", "server { a;", "; a;"} {
		_, err := parseNginx(bad)
		require.Error(t, err, bad)
	}
}
