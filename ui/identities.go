package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
)

type identityRow struct {
	Edge                    *taplinev1.IdentityEdge
	RequestsURL, ErrorsURL  string
	DeniesURL, PrincipalURL string
}

type identitiesData struct {
	Picker     picker
	Service    string
	Principal  string
	Rows       []identityRow
	FormError  string
	Onboarding bool
	Endpoints  Endpoints
}

func (s *Server) identitiesPage(c echo.Context) error {
	q := c.QueryParams()
	d := identitiesData{Service: strings.TrimSpace(q.Get("service")), Principal: strings.TrimSpace(q.Get("principal")), Endpoints: s.opts.Endpoints}
	tr, err := parseRange(q, s.now(), "24h")
	if err != nil {
		tr, _ = parseRange(url.Values{}, s.now(), "24h")
		d.FormError = err.Error()
	}
	d.Picker = newPicker(tr)
	code := http.StatusOK
	if d.FormError != "" {
		code = http.StatusBadRequest
	} else {
		limit, _ := strconv.Atoi(q.Get("limit"))
		resp, err := s.be.Events.GetIdentities(s.apiContext(c), &taplinev1.GetIdentitiesRequest{
			StartTime: tr.start(), EndTime: tr.end(), ServiceName: d.Service, Principal: d.Principal, Limit: int32(limit),
		})
		if err != nil {
			pe := apiError(err)
			if pe.code != http.StatusBadRequest {
				return pe
			}
			code, d.FormError = pe.code, pe.msg
		}
		abs := tr.absolute()
		for _, e := range resp.GetEdges() {
			link := func(extra ...string) string {
				v := url.Values{"kind": {"events"}}
				abs.set(v)
				if e.GetPrincipal() != "" {
					v.Set("principal", e.GetPrincipal())
				}
				v.Set("service", e.GetServiceName())
				for i := 0; i+1 < len(extra); i += 2 {
					v.Set(extra[i], extra[i+1])
				}
				return "/search?" + v.Encode()
			}
			pv := url.Values{}
			tr.set(pv)
			pv.Set("principal", e.GetPrincipal())
			d.Rows = append(d.Rows, identityRow{
				Edge: e, RequestsURL: link(), ErrorsURL: link("status", "5xx"), DeniesURL: link("decision", "deny"),
				PrincipalURL: "/identities?" + pv.Encode(),
			})
		}
		d.Onboarding = len(d.Rows) == 0 && d.Service == "" && d.Principal == "" && d.FormError == ""
	}
	return s.render(c, code, "identities", view{Title: "Identities", Section: "identities", Data: d})
}
