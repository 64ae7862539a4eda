package identity_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/proxy/identity"
)

func TestAppendChainJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	hop := 2
	chains := [][]identity.Entry{
		nil,
		{{Source: identity.SourcePeer}},
		{
			{Source: identity.SourceJWT, Type: "jwt", ID: "al\"ice\\\n\t\x01<&>\u2028é", Verified: true, Principal: true,
				Audience: []string{"a", "b"}, Scopes: []string{"x y"}, Expiry: &at, Issuer: "https://iss"},
			{Source: identity.SourceXFCC, Reason: identity.ReasonXFCCFartherHop, By: "spiffe://x", Hop: &hop, Subject: "CN=\"q\",O=r",
				Fingerprint: "AB", SPIFFEID: "spiffe://a/b"},
			{Source: identity.SourcePeer, Type: "cert", ID: "bad \xff utf8", Verified: true, Serial: "0A", NotAfter: &at},
		},
	}
	for _, c := range chains {
		got := identity.AppendChainJSON(nil, c)
		var back []identity.Entry
		require.NoError(t, json.Unmarshal(got, &back), string(got))
		want, err := json.Marshal(c)
		require.NoError(t, err)
		var wantBack []identity.Entry
		require.NoError(t, json.Unmarshal(want, &wantBack))
		if len(c) == 0 {
			require.Equal(t, "[]", string(got))
			continue
		}
		require.Equal(t, len(wantBack), len(back))
		for i := range back {
			require.Equal(t, wantBack[i].ID, back[i].ID)
			require.True(t, (wantBack[i].Expiry == nil) == (back[i].Expiry == nil))
			if back[i].Expiry != nil {
				require.True(t, wantBack[i].Expiry.Equal(*back[i].Expiry))
				back[i].Expiry, wantBack[i].Expiry = nil, nil
			}
			if back[i].NotAfter != nil {
				require.True(t, wantBack[i].NotAfter.Equal(*back[i].NotAfter))
				back[i].NotAfter, wantBack[i].NotAfter = nil, nil
			}
			require.Equal(t, wantBack[i], back[i])
		}
	}
}

func FuzzAppendChainJSON(f *testing.F) {
	f.Add("alice", "CN=x", "\xff\x00\u2028")
	f.Fuzz(func(t *testing.T, id, subject, reason string) {
		c := []identity.Entry{{Source: identity.SourceXFCC, ID: id, Subject: subject, Reason: reason, Audience: []string{id}}}
		var back, want []identity.Entry
		require.NoError(t, json.Unmarshal(identity.AppendChainJSON(nil, c), &back))
		std, err := json.Marshal(c)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(std, &want))
		require.Equal(t, want, back)
	})
}
