package nginxreceivertest

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Upstream is the app behind Nginx: it answers UpstreamBody and remembers
// the X-Request-ID each path came with.
type Upstream struct {
	srv *httptest.Server
	ids sync.Map // path → X-Request-ID
}

// UpstreamBody is what the upstream answers.
const UpstreamBody = "ok\n"

// NewUpstream starts an upstream, closed when the test ends.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.ids.Store(r.URL.Path, r.Header.Get("X-Request-ID"))
		_, _ = io.WriteString(w, UpstreamBody)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// Addr is the upstream's host:port.
func (u *Upstream) Addr() string { return u.srv.Listener.Addr().String() }

// RequestID returns the X-Request-ID the request for path came with.
func (u *Upstream) RequestID(path string) (string, bool) {
	v, ok := u.ids.Load(path)
	if !ok {
		return "", false
	}
	return v.(string), true
}

// PKI is the certificates of a test: a CA Nginx trusts for client
// certificates, another it does not, the server's certificate, a client
// certificate from each CA.
type PKI struct {
	CA, Other        *CA
	Server           *Leaf
	Client, Stranger *Leaf
}

// NewPKI makes the certificates.
func NewPKI(t testing.TB) PKI {
	t.Helper()
	ca := NewCA(t, "Tapline Test CA")
	other := NewCA(t, "Some Other CA")
	return PKI{
		CA: ca, Other: other, Server: ca.Server(t),
		Client:   ca.Client(t, pkix.Name{CommonName: "client-a", Organization: []string{"Tapline Test"}}, 0x1F2E3D4C),
		Stranger: other.Client(t, pkix.Name{CommonName: "stranger"}, 77),
	}
}

// Request is one request a test sends through Nginx and what it knows about
// it once sent.
type Request struct {
	Name        string
	TLS         bool
	Cert        *Leaf // client certificate, if any
	Traceparent string
	XRequestID  string
	WantStatus  int
	WantVerify  string // $ssl_client_verify

	// Set by Send.
	Path      string
	Round     int
	LocalPort int
	State     *tls.ConnectionState
}

// Requests are the requests every real-Nginx test sends: plain HTTP with a
// caller's traceparent and X-Request-ID, TLS without a client certificate,
// with a trusted one, with an untrusted one.
func Requests(p PKI) []*Request {
	return []*Request{
		{Name: "plain", Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", XRequestID: "client-chosen-id", WantStatus: 200},
		{Name: "tls-no-cert", TLS: true, WantStatus: 200, WantVerify: "NONE"},
		{Name: "tls-client-cert", TLS: true, Cert: p.Client, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", WantStatus: 200, WantVerify: "SUCCESS"},
		// Nginx answers 400 itself when an optional certificate fails.
		{Name: "tls-untrusted-cert", TLS: true, Cert: p.Stranger, WantStatus: 400, WantVerify: "FAILED:unable to verify the first certificate"},
	}
}

// Send sends the request to n as GET /NAME/ROUND?round=ROUND, on a
// connection of its own, and checks the status.
func (r *Request) Send(t testing.TB, p PKI, n *Nginx, round int) {
	t.Helper()
	r.Path, r.Round = fmt.Sprintf("/%s/%d", r.Name, round), round
	var mu sync.Mutex
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				r.LocalPort = c.LocalAddr().(*net.TCPAddr).Port
				mu.Unlock()
			}
			return c, err
		},
		TLSClientConfig: &tls.Config{RootCAs: p.CA.Pool(), ServerName: "localhost"},
	}
	defer tr.CloseIdleConnections()
	if r.Cert != nil {
		// Send the certificate even when its CA is not among those Nginx
		// asks for (Go would otherwise send none).
		tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &r.Cert.TLS, nil
		}
	}
	url := "http://" + n.HTTP + r.Path + "?round=" + fmt.Sprint(round)
	if r.TLS {
		url = "https://" + n.HTTPS + r.Path + "?round=" + fmt.Sprint(round)
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", UserAgent)
	if r.Traceparent != "" {
		req.Header.Set("traceparent", r.Traceparent)
	}
	if r.XRequestID != "" {
		req.Header.Set("X-Request-ID", r.XRequestID)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r.Name, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != r.WantStatus {
		t.Fatalf("%s: status %d, want %d", r.Name, resp.StatusCode, r.WantStatus)
	}
	r.State = resp.TLS
}

// UserAgent is the User-Agent of the requests Send sends.
const UserAgent = "tapline-test/1"
