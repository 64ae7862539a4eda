package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sources are where a configuration comes from, weakest first: defaults, the
// file, the environment, then Set (flags).
type Sources struct {
	// File is the YAML file; empty means none.
	File string
	// Env is the environment as os.Environ returns it. Variables starting
	// with TAPLINE_ set keys (EnvName); ReservedEnv are left alone.
	Env []string
	// Set holds "key=value" overrides, applied in order (command-line flags).
	Set []string
	// Sections names the sections the process runs (see
	// Config.ValidateSections); empty means all of them.
	Sections []string
}

// ReservedEnv are TAPLINE_ variables that are not configuration keys:
// TAPLINE_CONFIG names the file, TAPLINE_LIBCHDB the chDB library,
// TAPLINE_PYTHON the interpreter `tapline demo` runs the FastAPI app with,
// and TAPLINE_TEST_* belong to the test suites.
var ReservedEnv = []string{"TAPLINE_CONFIG", "TAPLINE_LIBCHDB", "TAPLINE_PYTHON"}

const reservedEnvPrefix = "TAPLINE_TEST_"

// Load builds the effective configuration from src and validates it. Every
// error names where the problem is: the file and line of an unknown key, the
// environment variable or the flag, or the key that fails validation.
func Load(src Sources) (Config, error) {
	cfg, err := Parse(src)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.ValidateSections(src.Sections...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Parse is Load without validation (for tests and for tools that print a
// configuration being written).
func Parse(src Sources) (Config, error) {
	cfg := Default()
	if src.File != "" {
		data, err := os.ReadFile(src.File)
		if err != nil {
			return Config{}, fmt.Errorf("config file: %w", err)
		}
		if err := decodeFile(src.File, data, &cfg); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, src.Env); err != nil {
		return Config{}, err
	}
	for _, kv := range src.Set {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return Config{}, fmt.Errorf("set %q: want key=value", kv)
		}
		if err := Set(&cfg, strings.TrimSpace(key), value); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

// Set changes one key of cfg from text, as a flag or environment variable
// would: "http.addr", "127.0.0.1:9090".
func Set(cfg *Config, key, text string) error {
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		if l.path == key {
			if err := setLeaf(cfg, l, text); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown key %q", key)
}

func applyEnv(cfg *Config, env []string) error {
	byName := map[string]leaf{}
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		byName[EnvName(l.path)] = l
	}
	var errs []error
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || slices.Contains(ReservedEnv, name) || strings.HasPrefix(name, reservedEnvPrefix) {
			continue
		}
		l, ok := byName[name]
		if !ok {
			errs = append(errs, fmt.Errorf("environment variable %s matches no configuration key (see `tapline config keys`)", name))
			continue
		}
		if err := setLeaf(cfg, l, value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", name, l.path, err))
		}
	}
	return errors.Join(errs...)
}

// decodeFile decodes YAML data onto cfg (which holds the defaults), refusing
// unknown keys.
func decodeFile(file string, data []byte, cfg *Config) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: defaults
		}
		return fmt.Errorf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: one YAML document expected", file)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: the file must be a mapping of keys", file, root.Line)
	}
	lines := map[int]string{}
	if err := checkKeys(root, reflect.TypeFor[Config](), "", lines); err != nil {
		return fmt.Errorf("%s:%w", file, err)
	}
	if err := root.Decode(cfg); err != nil {
		return fileTypeError(file, err, lines)
	}
	return nil
}

// checkKeys walks node against t and returns the first key t has no field
// for, with its line. It records the dotted path of each value's line.
func checkKeys(node *yaml.Node, t reflect.Type, prefix string, lines map[int]string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isScalar(t) || node.Kind == yaml.AliasNode {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return nil // Decode reports the type error
		}
		fields := map[string]reflect.Type{}
		var known []string
		for i := range t.NumField() {
			if name := yamlName(t.Field(i)); name != "" {
				fields[name] = t.Field(i).Type
				known = append(known, name)
			}
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			ft, ok := fields[k.Value]
			if !ok {
				where := "at the top level"
				if prefix != "" {
					where = "in " + prefix
				}
				return fmt.Errorf("%d: unknown key %q (known keys %s: %s)", k.Line, path, where, strings.Join(known, ", "))
			}
			lines[k.Line] = path
			if err := checkKeys(v, ft, path, lines); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if node.Kind == yaml.SequenceNode {
			for i, item := range node.Content {
				if err := checkKeys(item, t.Elem(), prefix+"["+strconv.Itoa(i)+"]", lines); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if node.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(node.Content); i += 2 {
				path := prefix + "." + node.Content[i].Value
				lines[node.Content[i].Line] = path
				if err := checkKeys(node.Content[i+1], t.Elem(), path, lines); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// fileTypeError turns yaml's multi-line type errors into "file:line: key:
// message" parts.
func fileTypeError(file string, err error, lines map[int]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", file, err)
	}
	var errs []error
	for _, msg := range te.Errors {
		m := lineRE.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", file, msg))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if key := lines[n]; key != "" {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", file, n, key, m[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s:%d: %s", file, n, m[2]))
		}
	}
	return errors.Join(errs...)
}
