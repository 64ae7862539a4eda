package config

import (
	"encoding"
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A leaf is one settable key of the configuration: its dotted YAML path
// ("store.clickhouse.dsn") and the index path of its struct field.
type leaf struct {
	path  string
	index []int
	typ   reflect.Type
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	yamlUnmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
)

// isScalar reports whether values of t are written as one YAML scalar:
// basic kinds, durations, and types that parse themselves from text.
func isScalar(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	p := reflect.PointerTo(t)
	if p.Implements(textUnmarshalerType) || p.Implements(yamlUnmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// yamlName returns the YAML key of a struct field, or "" for fields YAML
// does not see.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// leaves lists the settable keys under t: scalars and lists of scalars.
// Maps are set from the file only.
func leaves(t reflect.Type) []leaf {
	var out []leaf
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			idx := append(slices.Clone(index), i)
			switch {
			case isScalar(f.Type):
				out = append(out, leaf{path: path, index: idx, typ: f.Type})
			case f.Type.Kind() == reflect.Slice && isScalar(f.Type.Elem()):
				out = append(out, leaf{path: path, index: idx, typ: f.Type})
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, path, idx)
			}
		}
	}
	walk(t, "", nil)
	return out
}

// EnvPrefix starts every environment variable that sets a key.
const EnvPrefix = "TAPLINE_"

// EnvName is the environment variable for a dotted key: TAPLINE_ and the key
// in upper case with dots as underscores (http.addr → TAPLINE_HTTP_ADDR).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every key that the environment and Set can change, in
// file order.
func Keys() []string {
	var out []string
	for _, l := range leaves(reflect.TypeFor[Config]()) {
		out = append(out, l.path)
	}
	return out
}

// setLeaf parses text into the field at l in cfg. Lists are comma-separated.
func setLeaf(cfg *Config, l leaf, text string) error {
	field := reflect.ValueOf(cfg).Elem().FieldByIndex(l.index)
	var node *yaml.Node
	if l.typ.Kind() == reflect.Slice && !isScalar(l.typ) {
		node = &yaml.Node{Kind: yaml.SequenceNode}
		for _, part := range strings.Split(text, ",") {
			if part = strings.TrimSpace(part); part != "" {
				node.Content = append(node.Content, scalarNode(l.typ.Elem(), part))
			}
		}
	} else {
		node = scalarNode(l.typ, text)
	}
	fresh := reflect.New(l.typ)
	if err := node.Decode(fresh.Interface()); err != nil {
		return cleanYAMLError(err)
	}
	field.Set(fresh.Elem())
	return nil
}

// scalarNode is text as a YAML scalar for a field of type t: strings stay
// strings ("0123" is not a number), other types let YAML resolve the tag.
func scalarNode(t reflect.Type, text string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: text}
	if t.Kind() == reflect.String {
		n.Tag = "!!str"
	}
	return n
}

// cleanYAMLError drops yaml's "yaml: unmarshal errors:" preamble and line
// numbers that mean nothing for a value from the environment or a flag.
func cleanYAMLError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		return errors.New(msg)
	}
	return err
}
