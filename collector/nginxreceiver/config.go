package nginxreceiver

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Start positions for files the receiver has no saved position for.
const (
	StartAtBeginning = "beginning"
	StartAtEnd       = "end"
)

// Config is the receiver's configuration.
type Config struct {
	// Syslog are the syslog listeners; an empty address turns one off.
	Syslog SyslogConfig `mapstructure:"syslog"`
	// Files are the access-log files to tail.
	Files FilesConfig `mapstructure:"files"`
	// StorageDir holds the file read positions; required with files.
	StorageDir string `mapstructure:"storage_dir"`
	// MaxLineBytes caps a line (or syslog message): longer ones are cut to
	// this length, counted and mapped as far as the cut allows.
	MaxLineBytes int `mapstructure:"max_line_bytes"`
	// ServiceName is the service.name resource attribute of the events.
	ServiceName string `mapstructure:"service_name"`
	// Node is tapline.node for lines from files (syslog lines carry the
	// sender's host name); empty means this host's name.
	Node string `mapstructure:"node"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SyslogConfig configures the syslog listeners.
type SyslogConfig struct {
	// UDP is the host:port to receive datagrams on (what Nginx sends).
	UDP string `mapstructure:"udp"`
	// TCP is the host:port to accept syslog over TCP on, with octet-counting
	// or newline framing (RFC 6587), as relays such as rsyslog send it.
	TCP string `mapstructure:"tcp"`
}

// FilesConfig configures file tailing.
type FilesConfig struct {
	// Include lists the files to tail, by exact path.
	Include []string `mapstructure:"include"`
	// StartAt is where to start in a file seen for the first time:
	// "end" (the default) or "beginning".
	StartAt string `mapstructure:"start_at"`
	// PollInterval is how often the files are checked for new lines.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// RotationGrace is how long a rotated-away file is still read after the
	// path has a new file, for lines Nginx writes before it reopens.
	RotationGrace time.Duration `mapstructure:"rotation_grace"`
}

// Validate checks the configuration; messages name the YAML key.
func (c *Config) Validate() error {
	var errs []error
	if c.Syslog.UDP == "" && c.Syslog.TCP == "" && len(c.Files.Include) == 0 {
		errs = append(errs, errors.New("at least one of syslog.udp, syslog.tcp or files.include must be set"))
	}
	for key, addr := range map[string]string{"syslog.udp": c.Syslog.UDP, "syslog.tcp": c.Syslog.TCP} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Files.Include {
		switch {
		case p == "":
			errs = append(errs, fmt.Errorf("files.include[%d] must not be empty", i))
		case seen[p]:
			errs = append(errs, fmt.Errorf("files.include[%d]: %q listed twice", i, p))
		}
		seen[p] = true
	}
	if len(c.Files.Include) > 0 && c.StorageDir == "" {
		errs = append(errs, errors.New("storage_dir is required when files.include is set"))
	}
	switch c.Files.StartAt {
	case StartAtBeginning, StartAtEnd:
	default:
		errs = append(errs, fmt.Errorf("files.start_at must be %q or %q, not %q", StartAtBeginning, StartAtEnd, c.Files.StartAt))
	}
	if c.Files.PollInterval <= 0 {
		errs = append(errs, errors.New("files.poll_interval must be > 0"))
	}
	if c.Files.RotationGrace < 0 {
		errs = append(errs, errors.New("files.rotation_grace must be >= 0"))
	}
	if c.MaxLineBytes < 1024 {
		errs = append(errs, errors.New("max_line_bytes must be >= 1024"))
	}
	return errors.Join(errs...)
}
