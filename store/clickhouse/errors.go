package clickhouse

import (
	"errors"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/tapline/tapline/store"
)

// codeUnknownDatabase is ClickHouse's UNKNOWN_DATABASE error code.
const codeUnknownDatabase = 81

// codeNameRE finds the symbolic code name ClickHouse appends to an
// exception's message: "Table x does not exist. (UNKNOWN_TABLE)".
var codeNameRE = regexp.MustCompile(`\s*\(([A-Z][A-Z0-9_]+)\)\s*$`)

// storeError turns a ClickHouse exception anywhere in err's chain into
// *store.Error; other errors (network, context) are returned unchanged.
func storeError(err error) error {
	if err == nil {
		return nil
	}
	var ex *proto.Exception
	if !errors.As(err, &ex) {
		return err
	}
	return exceptionError(ex)
}

func exceptionError(ex *proto.Exception) *store.Error {
	msg := strings.TrimSpace(ex.Message)
	msg = strings.TrimPrefix(msg, "DB::Exception: ")
	name := ex.CodeName
	if m := codeNameRE.FindStringSubmatchIndex(msg); m != nil {
		if name == "" {
			name = msg[m[2]:m[3]]
		}
		msg = msg[:m[0]]
	}
	return &store.Error{Code: int(ex.Code), Name: name, Message: msg}
}
