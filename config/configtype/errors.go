package configtype

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is a validation error about one configuration key. Key is the
// dotted YAML path relative to the section that reported it; a parent section
// prefixes its own name with InSection, so the message the user reads names
// the full path: "bus.stream.max_age: must be > 0".
type FieldError struct {
	Key string
	Err error
}

// Errorf returns a FieldError for key with a formatted message.
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Err: fmt.Errorf(format, args...)}
}

func (e *FieldError) Error() string {
	if e.Key == "" {
		return e.Err.Error()
	}
	return e.Key + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// InSection prefixes section to the key of every FieldError in err (joined
// errors included) and returns err with that change; other errors are
// reported under the section's key. It returns nil for a nil err.
func InSection(section string, err error) error {
	if err == nil {
		return nil
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var errs []error
		for _, e := range joined.Unwrap() {
			errs = append(errs, InSection(section, e))
		}
		return errors.Join(errs...)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		key := section
		if fe.Key != "" {
			key = section + "." + fe.Key
		}
		return &FieldError{Key: key, Err: fe.Err}
	}
	return &FieldError{Key: section, Err: err}
}

// OneLine turns a possibly multi-line (joined) error into one line, the
// parts separated by "; ".
func OneLine(err error) string {
	if err == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
