package demo

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/demo/pki"
)

// taplineConfig returns demo/config/tapline.yaml with what a file must say
// and the environment cannot: the proxy listener's address and
// certificates, the application's URL, and the UI sign-in token.
func taplineConfig(certs pki.Dir, proxyAddr, appURL, token string) ([]byte, error) {
	base, err := ConfigFile(TaplineConfigFile)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	proxy, ok := doc["proxy"].(map[string]any)
	if !ok {
		return nil, errors.New("demo configuration: no proxy section")
	}
	listeners, _ := proxy["listeners"].([]any)
	upstreams, _ := proxy["upstreams"].([]any)
	if len(listeners) != 1 || len(upstreams) != 1 {
		return nil, errors.New("demo configuration: want one proxy listener and one upstream")
	}
	l, _ := listeners[0].(map[string]any)
	u, _ := upstreams[0].(map[string]any)
	tlsSec, _ := l["tls"].(map[string]any)
	if l == nil || u == nil || tlsSec == nil {
		return nil, errors.New("demo configuration: proxy listener or upstream is not a mapping")
	}
	l["address"] = proxyAddr
	tlsSec["cert"] = certs.CertFile(pki.Proxy)
	tlsSec["key"] = certs.KeyFile(pki.Proxy)
	tlsSec["client_ca"] = certs.CertFile(pki.CA)
	u["url"] = appURL

	query, _ := doc["query"].(map[string]any)
	if query == nil {
		query = map[string]any{}
		doc["query"] = query
	}
	auth, _ := query["auth"].(map[string]any)
	if auth == nil {
		auth = map[string]any{}
		query["auth"] = auth
	}
	auth["tokens"] = []any{map[string]any{"name": "demo", "token": token, "role": "admin"}}

	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	head := "# Written by tapline demo from demo/config/tapline.yaml with this run's\n" +
		"# addresses, certificates and sign-in token. Edit the original instead.\n"
	return append([]byte(head), out...), nil
}
