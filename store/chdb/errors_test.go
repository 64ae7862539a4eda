package chdb

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
)

func TestParseError(t *testing.T) {
	tests := []struct {
		text string
		want *store.Error
	}{
		{
			"Code: 60. DB::Exception: Unknown table expression identifier 't' in scope SELECT * FROM t. (UNKNOWN_TABLE)",
			&store.Error{Code: 60, Name: "UNKNOWN_TABLE", Message: "Unknown table expression identifier 't' in scope SELECT * FROM t"},
		},
		{
			"Code: 33. DB::Exception: Cannot read all data. Bytes read: 69. Bytes expected: 261: (at row 712)\n: While executing BinaryRowInputFormat. (CANNOT_READ_ALL_DATA)\n",
			&store.Error{Code: 33, Name: "CANNOT_READ_ALL_DATA", Message: "Cannot read all data. Bytes read: 69. Bytes expected: 261: (at row 712)\n: While executing BinaryRowInputFormat"},
		},
		{
			"Code: 57. DB::Exception: Table default.example already exists. (TABLE_ALREADY_EXISTS) (version 22.10.1.1175 (official build))",
			&store.Error{Code: 57, Name: "TABLE_ALREADY_EXISTS", Message: "Table default.example already exists"},
		},
		{
			"Code: 1001. DB::Exception: std::exception. Code: 1001, type: std::runtime_error",
			&store.Error{Code: 1001, Message: "std::exception. Code: 1001, type: std::runtime_error"},
		},
	}
	for _, tt := range tests {
		err := parseError(tt.text)
		var got *store.Error
		require.True(t, errors.As(err, &got), "%v", err)
		assert.Equal(t, tt.want, got)
	}
	err := parseError("connection closed")
	assert.Equal(t, 0, store.ErrorCode(err))
	assert.EqualError(t, err, "chdb: connection closed")
}
