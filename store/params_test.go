package store

import (
	"math"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type decision string

func TestFormatParam(t *testing.T) {
	ns := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	str := "p"
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"string raw", "it's a\tb\\c\n", "it's a\tb\\c\n"},
		{"empty string", "", ""},
		{"bytes raw", []byte{0, 'x'}, "\x00x"},
		{"named string", decision("allow"), "allow"},
		{"bool", true, "true"},
		{"int", -42, "-42"},
		{"uint64 max", uint64(math.MaxUint64), "18446744073709551615"},
		{"int8", int8(-8), "-8"},
		{"float", 1.5, "1.5"},
		{"float32", float32(0.1), "0.1"},
		{"float big", 1e21, "1e+21"},
		{"nan", math.NaN(), "nan"},
		{"inf", math.Inf(-1), "-inf"},
		{"time in UTC with ns", ns, "2024-05-06 06:08:09.123456789"},
		{"whole second", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), "2024-01-01 00:00:00"},
		{"duration", 1500 * time.Millisecond, "1500000000"},
		{"nil", nil, `\N`},
		{"nil pointer", (*string)(nil), `\N`},
		{"pointer", &str, "p"},
		{"big int", big.NewInt(-7), "-7"},
		{"addr", netip.MustParseAddr("10.0.0.1"), "10.0.0.1"},
		{"string slice", []string{"a", "it's", `back\slash`, "tab\tnl\ncr\rnul\x00"},
			`['a','it\'s','back\\slash','tab\tnl\ncr\rnul\0']`},
		{"empty slice", []string{}, "[]"},
		{"nil slice", []int(nil), "[]"},
		{"int slice", []int64{1, -2}, "[1,-2]"},
		{"nested", [][]string{{"a"}, {}}, "[['a'],[]]"},
		{"nullable elements", []*string{nil, &str}, "[NULL,'p']"},
		{"times", []time.Time{ns}, "['2024-05-06 06:08:09.123456789']"},
		{"bytes in slice", [][]byte{[]byte("x'")}, `['x\'']`},
		{"map sorted", map[string]string{"b": "2", "a": "'"}, `{'a':'\'','b':'2'}`},
		{"map of ints", map[string]uint64{"k": 1}, "{'k':1}"},
		{"any slice", []any{"a", 1, true, nil}, "['a',1,true,NULL]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatParam(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFormatParamRejects(t *testing.T) {
	for _, v := range []any{struct{}{}, make(chan int), func() {}, []any{struct{}{}}, complex(1, 2)} {
		_, err := FormatParam(v)
		assert.Error(t, err, "%T", v)
	}
}
