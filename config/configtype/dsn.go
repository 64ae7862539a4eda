package configtype

import (
	"net/url"
)

// DSN is a connection URL that may carry a password
// (clickhouse://user:pass@host:9000/db). It prints with the password masked;
// Value returns it in clear.
type DSN string

// Value returns the DSN in clear.
func (d DSN) Value() string { return string(d) }

// String masks the password, and any query parameter named password or
// secret, in the URL.
func (d DSN) String() string {
	if d == "" {
		return ""
	}
	u, err := url.Parse(string(d))
	if err != nil {
		// Not a URL we can take apart: it may hold anything.
		return Masked
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	masked := false
	for k := range q {
		switch k {
		case "password", "secret", "token":
			q.Set(k, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// MarshalText masks the password.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText stores text as the DSN.
func (d *DSN) UnmarshalText(text []byte) error {
	*d = DSN(text)
	return nil
}
