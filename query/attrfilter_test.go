package query_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/query"
)

func TestParseAttrFilter(t *testing.T) {
	tests := []struct {
		in   string
		want query.AttrFilter
		err  string
	}{
		{in: "http.route=/x", want: query.AttrFilter{Key: "http.route", Op: query.OpEquals, Value: "/x"}},
		{in: "k=", want: query.AttrFilter{Key: "k", Op: query.OpEquals, Value: ""}},
		{in: "k=a=b", want: query.AttrFilter{Key: "k", Op: query.OpEquals, Value: "a=b"}},
		{in: "k!=v", want: query.AttrFilter{Key: "k", Op: query.OpNotEquals, Value: "v"}},
		{in: "k=v!=w", want: query.AttrFilter{Key: "k", Op: query.OpEquals, Value: "v!=w"}},
		{in: "db.system", want: query.AttrFilter{Key: "db.system", Op: query.OpExists}},
		{in: "!db.system", want: query.AttrFilter{Key: "db.system", Op: query.OpNotExists}},
		{in: "span:k=v", want: query.AttrFilter{Scope: query.ScopeSpan, Key: "k", Op: query.OpEquals, Value: "v"}},
		{in: "resource:deployment.environment!=prod", want: query.AttrFilter{Scope: query.ScopeResource, Key: "deployment.environment", Op: query.OpNotEquals, Value: "prod"}},
		{in: "resource:!k", want: query.AttrFilter{Scope: query.ScopeResource, Key: "k", Op: query.OpNotExists}},
		{in: `note=it's "x"; DROP TABLE t`, want: query.AttrFilter{Key: "note", Op: query.OpEquals, Value: `it's "x"; DROP TABLE t`}},
		{in: "", err: "empty key"},
		{in: "=v", err: "empty key"},
		{in: "!=v", err: "empty key"},
		{in: "!", err: "empty key"},
		{in: "span:", err: "empty key"},
		{in: "!k=v", err: "takes no value"},
		{in: "k\x00=v", err: "control character"},
		{in: "k=v\x00", err: "NUL"},
		{in: "\xff=v", err: "UTF-8"},
		{in: strings.Repeat("k", 257), err: "key longer"},
		{in: "k=" + strings.Repeat("v", 4097), err: "value longer"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := query.ParseAttrFilter(tt.in)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			again, err := query.ParseAttrFilter(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again, "String must parse back to the same filter")
		})
	}
}

func FuzzParseAttrFilter(f *testing.F) {
	for _, s := range []string{"k=v", "k!=v", "k", "!k", "span:k=v", "resource:!k", "a=b=c", "!=", "=", "span:resource:k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := query.ParseAttrFilter(s)
		if err != nil {
			return
		}
		if got.Key == "" || strings.Contains(got.Key, "=") {
			t.Fatalf("parsed %q into a bad key %q", s, got.Key)
		}
		again, err := query.ParseAttrFilter(got.String())
		if err != nil {
			t.Fatalf("String() of %q = %q does not parse: %v", s, got.String(), err)
		}
		if again != got {
			t.Fatalf("round trip of %q: %+v != %+v", s, again, got)
		}
	})
}
