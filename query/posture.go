package query

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
)

// GetIdentities implements taplinev1.EventServiceServer. Requests are
// counted once per request id across hops; rows without an identity (a hop
// that did not authenticate) are left out, explicit anonymous ones kept.
func (e *eventServer) GetIdentities(ctx context.Context, req *taplinev1.GetIdentitiesRequest) (*taplinev1.GetIdentitiesResponse, error) {
	s := e.s
	var v violations
	checkText(&v, "service_name", req.GetServiceName(), maxNameLen)
	checkText(&v, "principal", req.GetPrincipal(), maxValueLen)
	limit := s.resolveLimit(&v, req.GetLimit())
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.DefaultWindow, s.now())
	if err := v.err(); err != nil {
		return nil, err
	}
	st := newStmt()
	conds := []string{st.inBucketedTime(w), "(Principal != '' OR PrincipalType = " + st.str(event.PrincipalAnonymous) + ")"}
	if req.GetServiceName() != "" {
		conds = append(conds, "ServiceName = "+st.str(req.GetServiceName()))
	}
	if req.GetPrincipal() != "" {
		conds = append(conds, "Principal = "+st.str(req.GetPrincipal()))
	}
	deny := st.str(event.DecisionDeny)
	// distinct counts requests by id; rows without an id count one each.
	distinct := func(cond string) string {
		return "uniqExactIf(RequestId, RequestId != '' AND " + cond + ") + countIf(RequestId = '' AND " + cond + ")"
	}
	sql := `SELECT Principal, toString(PrincipalType), toString(ServiceName),
  ` + distinct("1") + ` AS Requests,
  ` + distinct("Status >= 500") + ` AS Errors,
  ` + distinct("Decision = "+deny) + ` AS Denies,
  min(Timestamp), max(Timestamp)
FROM access_events
WHERE ` + where(conds) + `
GROUP BY Principal, PrincipalType, ServiceName
ORDER BY Requests DESC, Principal, PrincipalType, ServiceName
LIMIT ` + st.u32(uint32(limit))
	resp := &taplinev1.GetIdentitiesResponse{Edges: []*taplinev1.IdentityEdge{}}
	err := s.each(ctx, "identities", sql, st.params, func(r store.Rows) error {
		var (
			edge               taplinev1.IdentityEdge
			reqs, errs, denies uint64
			first, last        time.Time
		)
		if err := r.Scan(&edge.Principal, &edge.PrincipalType, &edge.ServiceName, &reqs, &errs, &denies, &first, &last); err != nil {
			return err
		}
		edge.Requests, edge.Errors, edge.Denies = int64(reqs), int64(errs), int64(denies)
		edge.FirstSeen, edge.LastSeen = timestamppb.New(first), timestamppb.New(last)
		resp.Edges = append(resp.Edges, &edge)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// TLS posture limits.
const (
	maxPostureBuckets   = 2000
	minPostureStep      = time.Minute
	defaultExpiringSoon = 30 * 24 * time.Hour
	maxCertificates     = 1000
)

// niceSteps are the bucket widths a default step is rounded up to.
var niceSteps = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

func defaultStep(w window) time.Duration {
	want := w.duration() / 24
	for _, s := range niceSteps {
		if s >= want {
			return s
		}
	}
	return niceSteps[len(niceSteps)-1]
}

// tlsUnion is the TLS observations of the window: connections at the tap
// (established ones; failures are reported apart) and requests over TLS at
// the edge sources.
func tlsUnion(st *stmt, w window, cols string) string {
	return `(
  SELECT ` + cols + ` FROM tls_connections WHERE ` + st.inBucketedTime(w) + ` AND Established
  UNION ALL
  SELECT ` + cols + ` FROM access_events WHERE ` + st.inBucketedTime(w) + ` AND Source IN ` +
		st.strs([]string{event.SourceNginx, event.SourceMesh}) + ` AND TlsVersion != ''
)`
}

// GetTlsPosture implements taplinev1.EventServiceServer.
func (e *eventServer) GetTlsPosture(ctx context.Context, req *taplinev1.GetTlsPostureRequest) (*taplinev1.TlsPosture, error) {
	s := e.s
	var v violations
	w := s.resolveWindow(&v, req.GetStartTime(), req.GetEndTime(), s.cfg.DefaultWindow, s.now())
	step := checkDuration(&v, "step", req.GetStep())
	soon := checkDuration(&v, "expiring_within", req.GetExpiringWithin())
	if err := v.err(); err != nil {
		return nil, err
	}
	if step == 0 {
		step = defaultStep(w)
	}
	switch {
	case step < minPostureStep:
		v.add("step", "must be at least %s", minPostureStep)
	case step%time.Second != 0:
		v.add("step", "must be a whole number of seconds")
	case w.duration()/step > maxPostureBuckets:
		v.add("step", "%s over %s makes more than %d buckets", step, w.duration(), maxPostureBuckets)
	}
	if req.GetExpiringWithin() == nil {
		soon = defaultExpiringSoon
	} else if soon > 10*365*24*time.Hour {
		v.add("expiring_within", "must be at most 10 years")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	p := &taplinev1.TlsPosture{
		StartTime: timestamppb.New(w.start), EndTime: timestamppb.New(w.end), Step: durationpb.New(step),
		Versions: []*taplinev1.SeriesPoint{}, Ciphers: []*taplinev1.SeriesPoint{}, Mtls: []*taplinev1.MtlsPoint{},
		Certificates: []*taplinev1.CertificateExpiry{}, HandshakeFailures: []*taplinev1.HandshakeFailure{},
	}
	for _, series := range []struct {
		col string
		out *[]*taplinev1.SeriesPoint
	}{{"TlsVersion", &p.Versions}, {"TlsCipher", &p.Ciphers}} {
		st := newStmt()
		bucket := "toStartOfInterval(Timestamp, toIntervalSecond(" + st.u32(uint32(step/time.Second)) + "))"
		sql := "SELECT " + bucket + " AS T, Source, Value, count()\nFROM " +
			tlsUnion(st, w, "Timestamp, toString(Source) AS Source, toString("+series.col+") AS Value") +
			"\nGROUP BY T, Source, Value\nORDER BY T, Source, Value"
		err := s.each(ctx, "TLS posture", sql, st.params, func(r store.Rows) error {
			var (
				pt taplinev1.SeriesPoint
				t  time.Time
				n  uint64
			)
			if err := r.Scan(&t, &pt.Source, &pt.Value, &n); err != nil {
				return err
			}
			pt.Time, pt.Count = timestamppb.New(t), int64(n)
			*series.out = append(*series.out, &pt)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if err := s.mtlsShare(ctx, w, step, p); err != nil {
		return nil, err
	}
	if err := s.certificates(ctx, w, soon, p); err != nil {
		return nil, err
	}
	if err := s.handshakeFailures(ctx, w, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) mtlsShare(ctx context.Context, w window, step time.Duration, p *taplinev1.TlsPosture) error {
	st := newStmt()
	bucket := "toStartOfInterval(Timestamp, toIntervalSecond(" + st.u32(uint32(step/time.Second)) + "))"
	sql := "SELECT " + bucket + " AS T, count(), countIf(MtlsVerified)\nFROM " +
		tlsUnion(st, w, "Timestamp, MtlsVerified") + "\nGROUP BY T\nORDER BY T"
	total := &taplinev1.MtlsPoint{Time: timestamppb.New(w.start)}
	err := s.each(ctx, "TLS posture", sql, st.params, func(r store.Rows) error {
		var (
			t        time.Time
			all, yes uint64
		)
		if err := r.Scan(&t, &all, &yes); err != nil {
			return err
		}
		pt := &taplinev1.MtlsPoint{Time: timestamppb.New(t), Total: int64(all), MtlsVerified: int64(yes), Share: share(yes, all)}
		p.Mtls = append(p.Mtls, pt)
		total.Total += pt.Total
		total.MtlsVerified += pt.MtlsVerified
		return nil
	})
	total.Share = share(uint64(total.MtlsVerified), uint64(total.Total))
	p.MtlsTotal = total
	return err
}

func share(part, all uint64) float64 {
	if all == 0 {
		return 0
	}
	return float64(part) / float64(all)
}

// certificates lists the peer certificates seen in the window that expire
// before end+soon, soonest first, and counts all of them by time left.
func (s *Server) certificates(ctx context.Context, w window, soon time.Duration, p *taplinev1.TlsPosture) error {
	st := newStmt()
	cols := "PeerFingerprint, PeerSubject, PeerIssuer, PeerSpiffeId, PeerSerial, %s AS NotBefore, PeerNotAfter, Timestamp, toString(Source) AS Source"
	union := `(
  SELECT ` + sprintf(cols, "PeerNotBefore") + ` FROM tls_connections WHERE ` + st.inBucketedTime(w) + ` AND PeerFingerprint != ''
  UNION ALL
  SELECT ` + sprintf(cols, "toDateTime(0, 'UTC')") + ` FROM access_events WHERE ` + st.inBucketedTime(w) + ` AND PeerFingerprint != ''
)`
	certs := `SELECT PeerFingerprint,
    any(PeerSubject) AS Subject, any(PeerIssuer) AS Issuer, any(PeerSpiffeId) AS SpiffeId, any(PeerSerial) AS Serial,
    max(NotBefore) AS NotBefore, max(PeerNotAfter) AS NotAfter, max(Timestamp) AS LastSeen,
    arraySort(groupUniqArray(Source)) AS Sources, count() AS Seen
  FROM ` + union + `
  GROUP BY PeerFingerprint`
	end := st.seconds(w.end)
	sql := "SELECT * FROM (" + certs + ")\nWHERE NotAfter > toDateTime(0, 'UTC') AND NotAfter < " + end + " + toIntervalSecond(" +
		st.u64(uint64(soon/time.Second)) + ")\nORDER BY NotAfter, PeerFingerprint\nLIMIT " + st.u32(maxCertificates)
	err := s.each(ctx, "TLS posture", sql, st.params, func(r store.Rows) error {
		var (
			c                             taplinev1.Certificate
			notBefore, notAfter, lastSeen time.Time
			sources                       []string
			seen                          uint64
		)
		if err := r.Scan(&c.Fingerprint, &c.Subject, &c.Issuer, &c.SpiffeId, &c.Serial, &notBefore, &notAfter, &lastSeen, &sources, &seen); err != nil {
			return err
		}
		c.NotBefore, c.NotAfter = ts(notBefore), ts(notAfter)
		p.Certificates = append(p.Certificates, &taplinev1.CertificateExpiry{
			Certificate: &c, LastSeen: timestamppb.New(lastSeen), Sources: nonNil(sources),
			Seen: int64(seen), Expired: !notAfter.After(w.end),
		})
		return nil
	})
	if err != nil {
		return err
	}
	st2 := newStmt()
	union2 := `(
  SELECT PeerFingerprint, PeerNotAfter FROM tls_connections WHERE ` + st2.inBucketedTime(w) + ` AND PeerFingerprint != ''
  UNION ALL
  SELECT PeerFingerprint, PeerNotAfter FROM access_events WHERE ` + st2.inBucketedTime(w) + ` AND PeerFingerprint != ''
)`
	e := st2.seconds(w.end)
	sql = `SELECT
  countIf(NotAfter <= ` + e + `),
  countIf(NotAfter > ` + e + ` AND NotAfter <= ` + e + ` + toIntervalDay(7)),
  countIf(NotAfter > ` + e + ` + toIntervalDay(7) AND NotAfter <= ` + e + ` + toIntervalDay(30)),
  countIf(NotAfter > ` + e + ` + toIntervalDay(30) AND NotAfter <= ` + e + ` + toIntervalDay(90)),
  countIf(NotAfter > ` + e + ` + toIntervalDay(90))
FROM (SELECT PeerFingerprint, max(PeerNotAfter) AS NotAfter FROM ` + union2 + ` GROUP BY PeerFingerprint)
WHERE NotAfter > toDateTime(0, 'UTC')`
	b := &taplinev1.ExpiryBuckets{}
	err = s.each(ctx, "TLS posture", sql, st2.params, func(r store.Rows) error {
		var n [5]uint64
		if err := r.Scan(&n[0], &n[1], &n[2], &n[3], &n[4]); err != nil {
			return err
		}
		b.Expired, b.Within_7D, b.Within_30D, b.Within_90D, b.Later = int64(n[0]), int64(n[1]), int64(n[2]), int64(n[3]), int64(n[4])
		return nil
	})
	p.ExpiryBuckets = b
	return err
}

func (s *Server) handshakeFailures(ctx context.Context, w window, p *taplinev1.TlsPosture) error {
	st := newStmt()
	sql := `SELECT toString(Failure), count() AS N, max(Timestamp), argMax(FailureDetail, Timestamp)
FROM tls_connections
WHERE ` + st.inBucketedTime(w) + ` AND NOT Established
GROUP BY Failure
ORDER BY N DESC, Failure`
	return s.each(ctx, "TLS posture", sql, st.params, func(r store.Rows) error {
		var (
			f    taplinev1.HandshakeFailure
			n    uint64
			last time.Time
		)
		if err := r.Scan(&f.Reason, &n, &last, &f.LastDetail); err != nil {
			return err
		}
		f.Count, f.LastSeen = int64(n), timestamppb.New(last)
		p.HandshakeFailures = append(p.HandshakeFailures, &f)
		return nil
	})
}
