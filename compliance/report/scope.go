package report

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/config/configtype"
)

// Scope is what a report covers: a label for the auditor and the filters
// every check applies. Empty lists cover everything. Patterns use '*' as a
// wildcard and are matched against whole names.
type Scope struct {
	// Name is the label shown in every output ("production, shop").
	Name string `yaml:"name" json:"name"`
	// Services are the service names (ServiceName of access events, spans
	// and logs) the report covers.
	Services []string `yaml:"services" json:"services"`
	// Listeners are the proxy tap listeners (Listener of TLS connections)
	// the report covers.
	Listeners []string `yaml:"listeners" json:"listeners"`
}

// scopeKeys are the keys a scope mapping may hold.
var scopeKeys = []string{"name", "services", "listeners"}

// UnmarshalYAML reads a scope: a mapping with the keys name, services and
// listeners (any other key is an error), or a plain string, which is the
// label of a scope that covers everything.
func (s *Scope) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var name string
		if err := n.Decode(&name); err != nil {
			return err
		}
		*s = Scope{Name: name}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			known := false
			for _, want := range scopeKeys {
				known = known || k == want
			}
			if !known {
				return fmt.Errorf("line %d: scope: unknown key %q (known: %s)", n.Content[i].Line, k, strings.Join(scopeKeys, ", "))
			}
		}
		type plain Scope
		var p plain
		if err := n.Decode(&p); err != nil {
			return err
		}
		*s = Scope(p)
		return nil
	default:
		return fmt.Errorf("line %d: scope: want a label or a mapping of name, services, listeners", n.Line)
	}
}

// Validate reports empty patterns; keys in errors are relative to the
// scope ("services[1]").
func (s Scope) Validate() error {
	var errs []error
	for _, l := range []struct {
		key  string
		list []string
	}{{"services", s.Services}, {"listeners", s.Listeners}} {
		for i, p := range l.list {
			if strings.TrimSpace(p) == "" {
				errs = append(errs, configtype.Errorf(fmt.Sprintf("%s[%d]", l.key, i), "empty pattern"))
			}
		}
	}
	return errors.Join(errs...)
}

// All reports whether the scope covers every service and listener.
func (s Scope) All() bool { return len(s.Services) == 0 && len(s.Listeners) == 0 }

// Filters says in words what the scope covers, for every output:
// "services orders, payments; listeners: all".
func (s Scope) Filters() string {
	list := func(l []string) string {
		if len(l) == 0 {
			return "all"
		}
		return strings.Join(l, ", ")
	}
	return "services: " + list(s.Services) + "; listeners: " + list(s.Listeners)
}

// String is the label and the filters: "production (services: orders;
// listeners: all)".
func (s Scope) String() string {
	if s.Name == "" {
		return s.Filters()
	}
	return s.Name + " (" + s.Filters() + ")"
}
