package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
)

func TestStoreError(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   *proto.Exception
		want store.Error
	}{
		{"name from message", &proto.Exception{Code: 60, Name: "DB::Exception", Message: "Table tapline.nope does not exist. (UNKNOWN_TABLE)"},
			store.Error{Code: 60, Name: "UNKNOWN_TABLE", Message: "Table tapline.nope does not exist."}},
		{"prefix", &proto.Exception{Code: 62, Message: "DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR)"},
			store.Error{Code: 62, Name: "SYNTAX_ERROR", Message: "Syntax error: failed at position 1."}},
		{"code name given", &proto.Exception{Code: 81, CodeName: "UNKNOWN_DATABASE", Message: "Database x does not exist"},
			store.Error{Code: 81, Name: "UNKNOWN_DATABASE", Message: "Database x does not exist"}},
		{"no name", &proto.Exception{Code: 1000, Message: "something (lower case)"},
			store.Error{Code: 1000, Message: "something (lower case)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := storeError(fmt.Errorf("wrapped: %w", tc.ex))
			var se *store.Error
			require.True(t, errors.As(err, &se))
			require.Equal(t, tc.want, *se)
			require.Equal(t, tc.want.Code, store.ErrorCode(err))
		})
	}
	require.NoError(t, storeError(nil))
	require.ErrorIs(t, storeError(context.Canceled), context.Canceled)
}

func TestParamText(t *testing.T) {
	str := "a\tb"
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"plain string", "hello", "hello"},
		{"hostile string", "x'; DROP TABLE t; --\\\t\n\r\x00", `x'; DROP TABLE t; --\\\t\n\r\0`},
		{"bytes", []byte("a\nb"), `a\nb`},
		{"pointer to string", &str, `a\tb`},
		{"nil pointer", (*string)(nil), `\N`},
		{"int", 42, "42"},
		{"time", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "2026-01-02 03:04:05.000000006"},
		// Arrays come quoted and escaped inside from store.FormatParam and
		// are not escaped again.
		{"array", []string{"a'b", "c\\d"}, `['a\'b','c\\d']`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.ParamText(tc.v)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestQuoting(t *testing.T) {
	require.Equal(t, "`otel_traces`", quoteTable("otel_traces"))
	require.Equal(t, "`db`.`t`", quoteTable("db.t"))
	require.Equal(t, "`Events.Timestamp`", quoteIdent("Events.Timestamp"))
	require.Equal(t, "`a``b`", quoteIdent("a`b"))
	require.Equal(t, `'c\'1\\'`, quoteString(`c'1\`))
}
