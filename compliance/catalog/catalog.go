package catalog

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed catalog.yaml
var catalogYAML []byte

// Catalog is the whole catalogue: frameworks and checks.
type Catalog struct {
	Frameworks []Framework `yaml:"frameworks"`
	Checks     []Check     `yaml:"checks"`
}

// Framework is one framework and its controls.
type Framework struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	// OSCALPrefix is put before a control's id (lower-cased) to make its
	// OSCAL control-id: "a." for ISO Annex A ("a.5.15"), "" for SOC 2
	// ("cc6.1").
	OSCALPrefix string    `yaml:"oscal_prefix"`
	Controls    []Control `yaml:"controls"`
}

// Control is one control: its id as the framework writes it, a short title
// and description in Tapline's words, and the checks that give evidence.
type Control struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Checks      []string `yaml:"checks"`
}

// Check is a check's description; what it runs lives in package checks.
type Check struct {
	ID         string `yaml:"id"`
	Number     int    `yaml:"number"`
	Title      string `yaml:"title"`
	Population string `yaml:"population"`
	Method     string `yaml:"method"`
}

var (
	loadOnce sync.Once
	loaded   *Catalog
	loadErr  error
)

// Load returns the embedded catalogue, parsed and checked. The result is
// shared: do not modify it.
func Load() (*Catalog, error) {
	loadOnce.Do(func() { loaded, loadErr = Parse(catalogYAML) })
	return loaded, loadErr
}

// Parse reads a catalogue from YAML (strictly: unknown keys are errors) and
// checks it: unique ids, every control has checks, every check a control
// refers to exists, every check serves at least one control.
func Parse(data []byte) (*Catalog, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &c, c.validate()
}

func (c *Catalog) validate() error {
	var errs []error
	checks := map[string]bool{}
	for _, ch := range c.Checks {
		if ch.ID == "" || ch.Title == "" || ch.Population == "" || ch.Method == "" {
			errs = append(errs, fmt.Errorf("check %q: id, title, population and method are required", ch.ID))
		}
		if checks[ch.ID] {
			errs = append(errs, fmt.Errorf("check %q listed twice", ch.ID))
		}
		checks[ch.ID] = true
	}
	used := map[string]bool{}
	fws := map[string]bool{}
	for _, fw := range c.Frameworks {
		if fws[fw.ID] {
			errs = append(errs, fmt.Errorf("framework %q listed twice", fw.ID))
		}
		fws[fw.ID] = true
		ids := map[string]bool{}
		for _, ctl := range fw.Controls {
			if ids[ctl.ID] {
				errs = append(errs, fmt.Errorf("framework %s: control %q listed twice", fw.ID, ctl.ID))
			}
			ids[ctl.ID] = true
			if ctl.Title == "" || len(ctl.Checks) == 0 {
				errs = append(errs, fmt.Errorf("framework %s: control %s needs a title and checks", fw.ID, ctl.ID))
			}
			for _, id := range ctl.Checks {
				if !checks[id] {
					errs = append(errs, fmt.Errorf("framework %s: control %s: unknown check %q", fw.ID, ctl.ID, id))
				}
				used[id] = true
			}
		}
	}
	for _, ch := range c.Checks {
		if !used[ch.ID] {
			errs = append(errs, fmt.Errorf("check %q serves no control", ch.ID))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// FrameworkIDs lists the frameworks' ids.
func (c *Catalog) FrameworkIDs() []string {
	var out []string
	for _, fw := range c.Frameworks {
		out = append(out, fw.ID)
	}
	return out
}

// Framework returns the framework with id.
func (c *Catalog) Framework(id string) (*Framework, error) {
	for i := range c.Frameworks {
		if c.Frameworks[i].ID == id {
			return &c.Frameworks[i], nil
		}
	}
	return nil, fmt.Errorf("unknown framework %q (known: %s)", id, strings.Join(c.FrameworkIDs(), ", "))
}

// Check returns the check with id, or nil.
func (c *Catalog) Check(id string) *Check {
	for i := range c.Checks {
		if c.Checks[i].ID == id {
			return &c.Checks[i]
		}
	}
	return nil
}

// CheckIDs returns the ids of the checks the framework's controls use, in
// catalogue order.
func (c *Catalog) CheckIDs(fw *Framework) []string {
	want := map[string]bool{}
	for _, ctl := range fw.Controls {
		for _, id := range ctl.Checks {
			want[id] = true
		}
	}
	var out []string
	for _, ch := range c.Checks {
		if want[ch.ID] {
			out = append(out, ch.ID)
		}
	}
	return out
}

// ControlsOf returns the ids of the framework's controls a check serves.
func (fw *Framework) ControlsOf(check string) []string {
	var out []string
	for _, ctl := range fw.Controls {
		if slices.Contains(ctl.Checks, check) {
			out = append(out, ctl.ID)
		}
	}
	return out
}

// OSCALControlID is a control's id in OSCAL form: lower case, with the
// framework's prefix ("cc6.1", "a.8.24").
func (fw *Framework) OSCALControlID(control string) string {
	return fw.OSCALPrefix + strings.ToLower(control)
}
