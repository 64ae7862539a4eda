package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	//go:embed templates
	templateFS embed.FS
	//go:embed static
	staticFS embed.FS
)

// contentSecurityPolicy allows the page's own scripts, styles and images
// only: no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options are the parts of a Server the binary provides.
type Options struct {
	Logger *slog.Logger
	// Now is the clock relative time ranges are taken from; nil is
	// time.Now.
	Now func() time.Time
	// Compliance serves the compliance page; nil shows how to turn it on.
	Compliance Compliance
	// HTTPClient talks to the OIDC provider; nil builds one from
	// Config.OIDC.TLS.
	HTTPClient *http.Client
	// Version is shown in the footer.
	Version string
	// Endpoints tell a new user where to send data (the empty states).
	Endpoints Endpoints
	// APIService is the service name the query API records its own calls
	// under (query.Options.ServiceName, default "tapline-query"): those
	// records alone do not count as data having arrived.
	APIService string
}

// Endpoints are the addresses the empty states show. An empty NginxSyslog
// means the collector's nginx syslog receiver is off: the page says so and
// how to turn it on, instead of an nginx line with no address. (All fields
// empty: the defaults of a local all-in-one.)
type Endpoints struct {
	OTLPGRPC, OTLPHTTP string
	NginxSyslog        string
	Proxy              string
}

// Server is the web UI: an echo router with the pages, the sign-in and the
// embedded assets.
type Server struct {
	cfg      Config
	be       Backend
	opts     Options
	logger   *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	e        *echo.Echo
	sessions *sessionStore
	static   string // asset version, for cache busting
	oidc     *oidcClient

	anonMu    sync.Mutex
	anonUntil time.Time
	anon      *user

	mu      sync.Mutex
	stopped bool
}

// New builds the UI over a backend. cfg must have passed Validate.
func New(cfg Config, be Backend, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ui config: %w", err)
	}
	if be.Traces == nil || be.Events == nil || be.Pipeline == nil || be.Auth == nil {
		return nil, errors.New("ui: incomplete backend")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.APIService == "" {
		opts.APIService = "tapline-query"
	}
	if opts.Endpoints == (Endpoints{}) {
		opts.Endpoints = Endpoints{OTLPGRPC: "localhost:4317", OTLPHTTP: "http://localhost:4318", NginxSyslog: "127.0.0.1:5514", Proxy: "localhost:8443"}
	}
	s := &Server{
		cfg: cfg, be: be, opts: opts, logger: opts.Logger,
		now:      func() time.Time { return opts.Now().UTC() },
		sessions: newSessionStore(cfg.SessionTTL, cfg.MaxSessions),
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.static, err = assetVersion(); err != nil {
		return nil, err
	}
	if cfg.OIDC.Enabled() {
		s.oidc = newOIDCClient(cfg.OIDC, opts.HTTPClient, s.logger)
	}
	s.e = s.router()
	return s, nil
}

// Handler serves the UI. Mount it at "/" on the HTTP listener, beside the
// REST API under /api/v1/.
func (s *Server) Handler() http.Handler { return s.e }

// Start fetches the OIDC provider's configuration when SSO is on. A
// provider that cannot be reached does not stop the UI: SSO sign-in
// reports it and retries.
func (s *Server) Start(ctx context.Context) error {
	if s.oidc != nil {
		if err := s.oidc.discover(ctx); err != nil {
			s.logger.Warn("ui: OIDC provider not reachable yet; SSO sign-in will retry", "issuer", s.cfg.OIDC.Issuer, "err", err)
		}
	}
	return nil
}

// Shutdown waits (within ctx) for a compliance run started from the UI.
// Safe before Start and twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	if s.opts.Compliance != nil {
		return s.opts.Compliance.Wait(ctx)
	}
	return nil
}

// pageFiles are the templates of the pages, each parsed with the layout.
var pageFiles = []string{
	"login", "search", "trace", "identities", "tls", "compliance", "pipeline", "error",
}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageFiles))
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// assetVersion is a hash of the embedded assets, appended to their URLs
// so that browsers may cache them for long.
func assetVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("ui: assets: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func (s *Server) router() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.securityHeaders)

	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	e.GET("/static/*", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	})))
	e.GET("/favicon.ico", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/static/favicon.svg")
	})

	e.GET("/login", s.loginPage)
	e.POST("/login", s.login)
	e.POST("/logout", s.logout)
	e.GET("/auth/login", s.oidcLogin)
	e.GET("/auth/callback", s.oidcCallback)

	auth := e.Group("", s.requireUser)
	auth.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/search") })
	auth.GET("/search", s.searchPage)
	auth.GET("/trace/:id", s.tracePage)
	auth.GET("/request/:id", s.requestPage)
	auth.GET("/identities", s.identitiesPage)
	auth.GET("/tls", s.tlsPage)
	auth.GET("/compliance", s.compliancePage)
	auth.POST("/compliance/run", s.complianceRun)
	auth.GET("/compliance/runs/:id/:file", s.complianceFile)
	auth.GET("/pipeline", s.pipelinePage)
	return e
}

// securityHeaders sets the CSP and its companions on every response, and a
// request id for the page's API calls.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		id := c.Request().Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 || !isPrintableASCII(id) {
			id = randomHex(16)
		}
		h.Set("X-Request-Id", id)
		c.Set(ctxRequestID, id)
		return next(c)
	}
}

// Keys of values kept on echo's context.
const (
	ctxRequestID = "tapline.request_id"
	ctxUser      = "tapline.user"
)

// view is what every page template gets.
type view struct {
	Title   string
	Section string
	User    *user
	CSRF    string
	Error   string
	Notice  string
	Static  string
	Version string
	OIDC    bool
	Data    any
}

func (s *Server) render(c echo.Context, code int, page string, v view) error {
	if u, ok := c.Get(ctxUser).(*user); ok {
		v.User = u
		if u.session != nil {
			v.CSRF = u.session.csrf
		}
	}
	v.Static, v.Version, v.OIDC = s.static, s.opts.Version, s.oidc != nil
	t, ok := s.pages[page]
	if !ok {
		return fmt.Errorf("ui: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("ui: render %s: %w", page, err)
	}
	return c.HTMLBlob(code, buf.Bytes())
}

// pageError is an error shown as a page with its HTTP status.
type pageError struct {
	code int
	msg  string
}

func (e *pageError) Error() string { return e.msg }

// apiError turns an error of the query API into what the user should see.
func apiError(err error) *pageError {
	st, ok := status.FromError(err)
	if !ok {
		return &pageError{http.StatusInternalServerError, "internal error"}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return &pageError{http.StatusBadRequest, st.Message()}
	case codes.NotFound:
		return &pageError{http.StatusNotFound, st.Message()}
	case codes.PermissionDenied:
		return &pageError{http.StatusForbidden, st.Message()}
	case codes.Unauthenticated:
		return &pageError{http.StatusUnauthorized, st.Message()}
	case codes.DeadlineExceeded:
		return &pageError{http.StatusGatewayTimeout, "the query took too long: narrow the time range or add filters"}
	case codes.ResourceExhausted:
		return &pageError{http.StatusRequestEntityTooLarge, st.Message()}
	case codes.Unavailable:
		return &pageError{http.StatusServiceUnavailable, "the store is not available: " + st.Message()}
	}
	return &pageError{http.StatusInternalServerError, "internal error"}
}

// handleError renders errors as pages. An API call refused for bad
// credentials ends the session: the token was revoked or expired.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var pe *pageError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &he):
		pe = &pageError{he.Code, http.StatusText(he.Code)}
		if m, ok := he.Message.(string); ok && he.Code != http.StatusNotFound {
			pe.msg = m
		}
		if he.Code == http.StatusNotFound {
			pe.msg = "There is no page at " + c.Request().URL.Path + "."
		}
	default:
		if _, ok := status.FromError(err); ok {
			pe = apiError(err)
		} else {
			pe = &pageError{http.StatusInternalServerError, "internal error"}
		}
	}
	if pe.code >= 500 {
		s.logger.Error("ui request failed", "path", c.Request().URL.Path, "status", pe.code, "err", err)
	}
	if pe.code == http.StatusUnauthorized {
		if u, ok := c.Get(ctxUser).(*user); ok && u.session != nil {
			s.sessions.delete(u.session.key)
			clearSessionCookie(c, s.secureCookie(c.Request()))
			c.Set(ctxUser, nil)
		}
		if c.Request().Method == http.MethodGet && c.Request().Header.Get("Authorization") == "" {
			_ = c.Redirect(http.StatusFound, "/login?expired=1&next="+urlQueryEscape(c.Request().URL.RequestURI()))
			return
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(pe.code)
		return
	}
	if rerr := s.render(c, pe.code, "error", view{Title: http.StatusText(pe.code), Data: errorData{Code: pe.code, Message: pe.msg}}); rerr != nil {
		s.logger.Error("ui: render error page", "err", rerr)
		_ = c.String(pe.code, pe.msg)
	}
}

type errorData struct {
	Code    int
	Message string
}

func (d errorData) CodeText() string { return strconv.Itoa(d.Code) + " " + http.StatusText(d.Code) }

// apiContext is the context for the page's calls to the API: the user's
// token and the page request's details for the API's access record.
func (s *Server) apiContext(c echo.Context) context.Context {
	r := c.Request()
	var token string
	if u, ok := c.Get(ctxUser).(*user); ok && u != nil {
		token = u.token
	}
	proto := strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
	if r.ProtoMajor == 2 {
		proto = "2"
	}
	id, _ := c.Get(ctxRequestID).(string)
	return callContext(r.Context(), token, requestInfo{
		method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, proto: proto,
		client: r.RemoteAddr, userAgent: r.UserAgent(), requestID: id,
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
