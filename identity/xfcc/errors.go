package xfcc

import "errors"

// Sentinel errors; Parse wraps them with the position where parsing stopped.
var (
	// ErrSyntax reports a header that is not a list of Key=Value pairs.
	ErrSyntax = errors.New("xfcc: syntax error")
	// ErrDuplicateKey reports a single-valued key given twice in one element:
	// two parsers could disagree on which one counts, so it is refused.
	ErrDuplicateKey = errors.New("xfcc: duplicate key")
	// ErrEncoding reports a Cert or Chain value that is not valid URL encoding.
	ErrEncoding = errors.New("xfcc: bad url encoding")
)
