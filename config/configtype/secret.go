package configtype

// Masked is what a non-empty Secret prints as.
const Masked = "[REDACTED]"

// Secret is a configuration string that must not be shown: passwords, tokens.
// It prints as [REDACTED] (through fmt, YAML and text marshalling) unless it
// is empty; Value returns the real string.
type Secret string

// Value returns the secret in clear.
func (s Secret) Value() string { return string(s) }

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Masked
}

// GoString masks the secret in %#v as well.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalText masks the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText stores text as the secret.
func (s *Secret) UnmarshalText(text []byte) error {
	*s = Secret(text)
	return nil
}
