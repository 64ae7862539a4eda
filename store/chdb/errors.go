package chdb

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tapline/tapline/store"
)

// ErrBatchSent is returned when a batch is used after Send or Abort.
var ErrBatchSent = errors.New("chdb: batch already sent or aborted")

var (
	// errorCode matches the start of ClickHouse's exception text:
	// "Code: 60. DB::Exception: Unknown table ... (UNKNOWN_TABLE)".
	errorCode = regexp.MustCompile(`^Code: (\d+)\. (?:DB::Exception: )?`)
	// errorName matches the error's name in parentheses, followed at most by
	// the server version in parentheses, at the end of the text.
	errorName = regexp.MustCompile(`\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version .*\))?\.?\s*$`)
)

// parseError turns chDB's error text into a *store.Error carrying the
// ClickHouse error code and name. Text without a code becomes a plain error.
func parseError(text string) error {
	text = strings.TrimSpace(text)
	m := errorCode.FindStringSubmatch(text)
	if m == nil {
		return fmt.Errorf("chdb: %s", text)
	}
	code, err := strconv.Atoi(m[1])
	if err != nil {
		return fmt.Errorf("chdb: %s", text)
	}
	msg := text[len(m[0]):]
	var name string
	if n := errorName.FindStringSubmatchIndex(msg); n != nil {
		name = msg[n[2]:n[3]]
		msg = strings.TrimSpace(msg[:n[0]])
	}
	return &store.Error{Code: code, Name: name, Message: strings.TrimSuffix(msg, ".")}
}
