package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/labstack/echo/v4"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
)

// legendItem is one colour of a chart's legend.
type legendItem struct {
	Class, Value string
	Total        int64
}

type certRow struct {
	C        *taplinev1.CertificateExpiry
	DaysLeft int
	Class    string
	Name     string
}

type tlsData struct {
	Picker       picker
	Posture      *taplinev1.TlsPosture
	VersionChart template.HTML
	Versions     []legendItem
	CipherChart  template.HTML
	Ciphers      []legendItem
	MTLSChart    template.HTML
	Certs        []certRow
	FormError    string
	Empty        bool
	Endpoints    Endpoints
}

func (s *Server) tlsPage(c echo.Context) error {
	q := c.QueryParams()
	d := tlsData{Endpoints: s.opts.Endpoints}
	tr, err := parseRange(q, s.now(), "24h")
	if err != nil {
		tr, _ = parseRange(url.Values{}, s.now(), "24h")
		d.FormError = err.Error()
	}
	d.Picker = newPicker(tr)
	if d.FormError != "" {
		return s.render(c, http.StatusBadRequest, "tls", view{Title: "TLS posture", Section: "tls", Data: d})
	}
	p, err := s.be.Events.GetTlsPosture(s.apiContext(c), &taplinev1.GetTlsPostureRequest{StartTime: tr.start(), EndTime: tr.end()})
	if err != nil {
		return apiError(err)
	}
	d.Posture = p
	from, to, step := p.GetStartTime().AsTime(), p.GetEndTime().AsTime(), p.GetStep().AsDuration()
	var vs, cs []series
	vs, d.Versions = seriesOf(p.GetVersions(), "v")
	cs, d.Ciphers = seriesOf(p.GetCiphers(), "c")
	if len(vs) > 0 {
		d.VersionChart = stackedSVG("TLS versions per "+fmtDur(step), vs, from, to, step)
	}
	if len(cs) > 0 {
		d.CipherChart = stackedSVG("Cipher suites per "+fmtDur(step), cs, from, to, step)
	}
	var share []sharePoint
	for _, m := range p.GetMtls() {
		if m.GetTotal() > 0 {
			share = append(share, sharePoint{T: m.GetTime().AsTime().Add(step / 2), Share: m.GetShare(), Total: m.GetTotal()})
		}
	}
	if len(share) > 0 {
		d.MTLSChart = shareSVG("Share of mutually authenticated TLS per "+fmtDur(step), share, from, to)
	}
	end := to
	for _, ce := range p.GetCertificates() {
		na := ce.GetCertificate().GetNotAfter().AsTime()
		days := int(na.Sub(end).Hours() / 24)
		if na.Before(end) {
			days = -int(end.Sub(na).Hours()/24) - 1
		}
		cls := "ok"
		switch {
		case ce.GetExpired() || na.Before(end):
			cls = "bad"
		case na.Sub(end) < 7*24*time.Hour:
			cls = "bad"
		case na.Sub(end) < 30*24*time.Hour:
			cls = "warn"
		}
		name := ce.GetCertificate().GetSpiffeId()
		if name == "" {
			name = ce.GetCertificate().GetSubject()
		}
		if name == "" {
			name = shortID(ce.GetCertificate().GetFingerprint())
		}
		d.Certs = append(d.Certs, certRow{C: ce, DaysLeft: days, Class: cls, Name: name})
	}
	d.Empty = len(vs) == 0 && len(share) == 0 && len(d.Certs) == 0 && len(p.GetHandshakeFailures()) == 0
	return s.render(c, http.StatusOK, "tls", view{Title: "TLS posture", Section: "tls", Data: d})
}

// seriesOf groups series points by value (summing the sources), biggest
// first; values past the eighth share one "other" colour.
func seriesOf(points []*taplinev1.SeriesPoint, prefix string) ([]series, []legendItem) {
	byValue := map[string]*series{}
	for _, p := range points {
		v := p.GetValue()
		if v == "" {
			v = "none"
		}
		s := byValue[v]
		if s == nil {
			s = &series{Value: v, Counts: map[int64]int64{}}
			byValue[v] = s
		}
		s.Counts[p.GetTime().AsTime().Unix()] += p.GetCount()
		s.Total += p.GetCount()
	}
	out := make([]series, 0, len(byValue))
	for _, s := range byValue {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Total != out[j].Total {
			return out[i].Total > out[j].Total
		}
		return out[i].Value < out[j].Value
	})
	legend := make([]legendItem, 0, len(out))
	for i := range out {
		out[i].Class = fmt.Sprintf("%s%d", prefix, min(i, 7))
		legend = append(legend, legendItem{Class: "sw " + out[i].Class, Value: out[i].Value, Total: out[i].Total})
	}
	return out, legend
}
