package ui

import (
	"crypto/subtle"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/query"
)

// Cookie names. The session cookie is HttpOnly and SameSite=Strict; the
// login form's CSRF cookie too.
const (
	sessionCookie = "tapline_session"
	loginCookie   = "tapline_login"
)

// anonymousCacheFor is how long the UI trusts that the API lets anonymous
// callers in before asking again.
const anonymousCacheFor = time.Minute

// user is who is looking at a page: a session (cookie), a bearer header on
// the request, or an anonymous visitor when the API allows them.
type user struct {
	token   string
	caller  query.Caller
	session *session
}

// Principal is the name shown in the header.
func (u *user) Principal() string {
	if u.caller.Principal == "" {
		return "anonymous"
	}
	return u.caller.Principal
}

// Role is the user's role.
func (u *user) Role() string { return u.caller.Role }

// CanAudit reports whether the user may see audit material (identities,
// TLS posture, pipeline, report downloads) and start reports.
func (u *user) CanAudit() bool { return roleRank(u.caller.Role) >= roleRank(query.RoleAuditor) }

// SignedIn reports whether the user has a session to sign out of.
func (u *user) SignedIn() bool { return u.session != nil }

func roleRank(r string) int {
	switch r {
	case query.RoleViewer:
		return 1
	case query.RoleAuditor:
		return 2
	case query.RoleAdmin:
		return 3
	}
	return 0
}

// requireUser finds the user of a request or sends them to sign in. POSTs
// from a session must carry its CSRF token.
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, token, ok := strings.Cut(h, " ")
			token = strings.TrimSpace(token)
			if !ok || !strings.EqualFold(scheme, "bearer") || token == "" {
				return &pageError{http.StatusUnauthorized, "authorization must be 'Bearer <token>'"}
			}
			caller, err := s.be.Auth.Authenticate(s.apiContext(c), token)
			if err != nil {
				return apiError(err)
			}
			c.Set(ctxUser, &user{token: token, caller: caller})
			return next(c)
		}
		now := s.now()
		if ck, err := r.Cookie(sessionCookie); err == nil {
			if sess := s.sessions.get(now, ck.Value); sess != nil {
				c.Set(ctxUser, &user{token: sess.token, caller: sess.caller, session: sess})
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					if err := checkCSRF(c, sess.csrf); err != nil {
						return err
					}
				}
				return next(c)
			}
		}
		if u := s.anonymous(c); u != nil {
			c.Set(ctxUser, u)
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				return &pageError{http.StatusForbidden, "sign in to do this"}
			}
			return next(c)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return &pageError{http.StatusUnauthorized, "sign in first"}
		}
		// A link followed from another site comes without the SameSite=Strict
		// cookie; reloading the page from here sends it.
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.URL.Query().Get("_r") == "" {
			return s.sameSiteReload(c)
		}
		return c.Redirect(http.StatusFound, "/login?next="+urlQueryEscape(cleanNext(r.URL.RequestURI())))
	}
}

// sameSiteReload answers a cross-site navigation with a page that reloads
// the URL from this origin (a meta refresh: no script).
func (s *Server) sameSiteReload(c echo.Context) error {
	u := *c.Request().URL
	q := u.Query()
	q.Set("_r", "1")
	u.RawQuery = q.Encode()
	target := html.EscapeString(u.RequestURI())
	body := `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=` + target +
		`"><title>Tapline</title></head><body><p><a href="` + target + `">Continue to Tapline</a></p></body></html>`
	return c.HTML(http.StatusOK, body)
}

// anonymous returns an anonymous user when the API accepts callers without
// credentials. The answer is cached for a minute.
func (s *Server) anonymous(c echo.Context) *user {
	now := s.now()
	s.anonMu.Lock()
	if now.Before(s.anonUntil) {
		u := s.anon
		s.anonMu.Unlock()
		return u
	}
	s.anonMu.Unlock()
	var u *user
	if caller, err := s.be.Auth.Authenticate(s.apiContext(c), ""); err == nil {
		u = &user{caller: caller}
	}
	s.anonMu.Lock()
	s.anon, s.anonUntil = u, now.Add(anonymousCacheFor)
	s.anonMu.Unlock()
	return u
}

// checkCSRF compares the form's csrf field with the session's token and
// refuses cross-origin posts.
func checkCSRF(c echo.Context, want string) error {
	r := c.Request()
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		ou, err := url.Parse(o)
		if err != nil || ou.Host != r.Host {
			return &pageError{http.StatusForbidden, "cross-origin request refused"}
		}
	}
	got := c.FormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &pageError{http.StatusForbidden, "the form expired or did not come from this site: reload the page and try again"}
	}
	return nil
}

type loginData struct {
	Next      string
	LoginCSRF string
	Expired   bool
	SignedOut bool
}

func (s *Server) loginPage(c echo.Context) error {
	token := randomHex(16)
	setCookie(c, loginCookie, token, 15*time.Minute, s.secureCookie(c.Request()), http.SameSiteStrictMode)
	q := c.QueryParams()
	return s.render(c, http.StatusOK, "login", view{Title: "Sign in", Data: loginData{
		Next: cleanNext(q.Get("next")), LoginCSRF: token, Expired: q.Get("expired") != "", SignedOut: q.Get("out") != "",
	}})
}

// login checks an API token with the API and starts a session.
func (s *Server) login(c echo.Context) error {
	r := c.Request()
	next := cleanNext(c.FormValue("next"))
	ck, err := r.Cookie(loginCookie)
	if err != nil || checkCSRF(c, ck.Value) != nil {
		return s.loginFailed(c, http.StatusForbidden, next, "The sign-in form expired. Try again.")
	}
	token := strings.TrimSpace(c.FormValue("token"))
	if token == "" {
		return s.loginFailed(c, http.StatusBadRequest, next, "Enter an API token.")
	}
	caller, err := s.be.Auth.Authenticate(s.apiContext(c), token)
	if err != nil {
		code := status.Code(err)
		if code == codes.Unauthenticated || code == codes.PermissionDenied {
			return s.loginFailed(c, http.StatusUnauthorized, next, "That token was not accepted.")
		}
		return apiError(err)
	}
	s.startSession(c, token, caller, "token")
	return c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) startSession(c echo.Context, token string, caller query.Caller, via string) {
	cookie, _ := s.sessions.create(s.now(), token, caller, via)
	secure := s.secureCookie(c.Request())
	setCookie(c, sessionCookie, cookie, s.cfg.SessionTTL, secure, http.SameSiteStrictMode)
	setCookie(c, loginCookie, "", -1, secure, http.SameSiteStrictMode)
	s.logger.Info("ui sign-in", "principal", caller.Principal, "role", caller.Role, "via", via)
}

func (s *Server) loginFailed(c echo.Context, code int, next, msg string) error {
	token := randomHex(16)
	setCookie(c, loginCookie, token, 15*time.Minute, s.secureCookie(c.Request()), http.SameSiteStrictMode)
	return s.render(c, code, "login", view{Title: "Sign in", Error: msg, Data: loginData{Next: next, LoginCSRF: token}})
}

func (s *Server) logout(c echo.Context) error {
	ck, err := c.Request().Cookie(sessionCookie)
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	sess := s.sessions.get(s.now(), ck.Value)
	if sess == nil {
		clearSessionCookie(c, s.secureCookie(c.Request()))
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := checkCSRF(c, sess.csrf); err != nil {
		return err
	}
	s.sessions.delete(sess.key)
	clearSessionCookie(c, s.secureCookie(c.Request()))
	return c.Redirect(http.StatusSeeOther, "/login?out=1")
}

// secureCookie says whether cookies get the Secure attribute: over TLS, or
// always when configured (TLS terminated in front).
func (s *Server) secureCookie(r *http.Request) bool {
	return s.cfg.SecureCookie == "always" || r.TLS != nil
}

func setCookie(c echo.Context, name, value string, maxAge time.Duration, secure bool, same http.SameSite) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure, SameSite: same}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.SetCookie(ck)
}

func clearSessionCookie(c echo.Context, secure bool) {
	setCookie(c, sessionCookie, "", -1, secure, http.SameSiteStrictMode)
}

// cleanNext keeps a redirect target on this site: a path, never a scheme,
// host or protocol-relative URL.
func cleanNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/search"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/search"
	}
	if strings.HasPrefix(u.Path, "/login") || strings.HasPrefix(u.Path, "/auth/") {
		return "/search"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// errNoCompliance is returned by pages that need the compliance store when
// the process has none.
var errNoCompliance = errors.New("compliance reports are not available in this process")

// principalTypes names principal types for badges.
var principalTypes = map[string]string{
	event.PrincipalSPIFFE:    "SPIFFE",
	event.PrincipalJWT:       "JWT",
	event.PrincipalCert:      "cert",
	event.PrincipalAnonymous: "anonymous",
	query.PrincipalTypeToken: "token",
}
