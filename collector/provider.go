package collector

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
	"gopkg.in/yaml.v3"
)

// The tapline: confmap scheme serves values a tapline process knows and a
// YAML file cannot: where the bus is, which ports to listen on. Any collector
// configuration can use them, e.g. `url: ${tapline:nats_url}`.
const (
	schemeTapline = "tapline"

	// Documents (whole configurations).
	docDefault = "default" // the built-in configuration
	docNATS    = "nats"    // the nats exporter's credentials and TLS

	// Values.
	valueNATSURL  = "nats_url"
	valueOTLPGRPC = "otlp_grpc_endpoint"
	valueOTLPHTTP = "otlp_http_endpoint"
	valueNginx    = "nginx_syslog_endpoint"
)

// receiverNginx is the built-in configuration's nginx receiver, left out
// when Settings.NginxSyslogEndpoint is off.
const receiverNginx = "nginx"

// defaultDocument is the built-in configuration; without an nginx syslog
// endpoint, the nginx receiver is taken out of it and of every pipeline.
func defaultDocument(nginxSyslog string) (*confmap.Retrieved, error) {
	if nginxSyslog != "" {
		return confmap.NewRetrievedFromYAML(defaultYAML)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(defaultYAML, &doc); err != nil {
		return nil, fmt.Errorf("built-in configuration: %w", err)
	}
	if receivers, ok := doc["receivers"].(map[string]any); ok {
		delete(receivers, receiverNginx)
	}
	service, _ := doc["service"].(map[string]any)
	pipelines, _ := service["pipelines"].(map[string]any)
	for _, p := range pipelines {
		p, ok := p.(map[string]any)
		if !ok {
			continue
		}
		ids, _ := p["receivers"].([]any)
		p["receivers"] = slices.DeleteFunc(ids, func(id any) bool { return id == receiverNginx })
	}
	return confmap.NewRetrieved(doc)
}

// hasOverrides reports whether the built-in configuration needs the nats
// document: credentials or TLS to add to the exporter.
func (n NATS) hasOverrides() bool {
	a := n.Auth
	return n.TLS != nil || a.Token != "" || a.User != "" || a.Password != "" || a.CredentialsFile != "" || a.NKeySeedFile != ""
}

// natsDocument is the nats exporter's auth and tls as a configuration
// fragment, merged over the built-in configuration.
func (n NATS) natsDocument() map[string]any {
	nats := map[string]any{}
	auth := map[string]any{}
	put := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put(auth, "token", string(n.Auth.Token))
	put(auth, "user", n.Auth.User)
	put(auth, "password", string(n.Auth.Password))
	put(auth, "credentials_file", n.Auth.CredentialsFile)
	put(auth, "nkey_seed_file", n.Auth.NKeySeedFile)
	if len(auth) > 0 {
		nats["auth"] = auth
	}
	if t := n.TLS; t != nil {
		tls := map[string]any{"insecure_skip_verify": t.InsecureSkipVerify}
		put(tls, "ca_file", t.CAFile)
		put(tls, "cert_file", t.CertFile)
		put(tls, "key_file", t.KeyFile)
		put(tls, "server_name_override", t.ServerName)
		nats["tls"] = tls
	}
	return map[string]any{"exporters": map[string]any{"nats": nats}}
}

type taplineProvider struct {
	values map[string]any
	docs   map[string]func() (*confmap.Retrieved, error)
}

func newTaplineProviderFactory(set Settings) confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider {
		return &taplineProvider{
			values: map[string]any{
				valueNATSURL:  set.NATS.URL,
				valueOTLPGRPC: set.OTLPGRPCEndpoint,
				valueOTLPHTTP: set.OTLPHTTPEndpoint,
				valueNginx:    set.NginxSyslogEndpoint,
			},
			docs: map[string]func() (*confmap.Retrieved, error){
				docDefault: func() (*confmap.Retrieved, error) { return defaultDocument(set.NginxSyslogEndpoint) },
				docNATS:    func() (*confmap.Retrieved, error) { return confmap.NewRetrieved(set.NATS.natsDocument()) },
			},
		}
	})
}

// Retrieve returns the document or value named after "tapline:".
func (p *taplineProvider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	name, ok := strings.CutPrefix(uri, schemeTapline+":")
	if !ok {
		return nil, fmt.Errorf("%q is not a %s: URI", uri, schemeTapline)
	}
	if doc, ok := p.docs[name]; ok {
		return doc()
	}
	if v, ok := p.values[name]; ok {
		return confmap.NewRetrieved(v)
	}
	known := make([]string, 0, len(p.values)+len(p.docs))
	for k := range p.values {
		known = append(known, k)
	}
	for k := range p.docs {
		known = append(known, k)
	}
	sort.Strings(known)
	return nil, fmt.Errorf("unknown %s:%s (known: %s)", schemeTapline, name, strings.Join(known, ", "))
}

// Scheme is "tapline".
func (p *taplineProvider) Scheme() string { return schemeTapline }

// Shutdown has nothing to release.
func (p *taplineProvider) Shutdown(context.Context) error { return nil }
