package config

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Marshal writes cfg as YAML in the file's layout, with secrets masked and
// durations written as "72h0m0s". It is what `tapline config print` shows;
// its output loads back into the same configuration except for masked
// secrets.
func Marshal(cfg Config) ([]byte, error) {
	node, err := toNode(reflect.ValueOf(cfg))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	yamlMarshalerType = reflect.TypeFor[yaml.Marshaler]()
)

func toNode(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t == durationType:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: time.Duration(v.Int()).String()}, nil
	case t.Implements(yamlMarshalerType) || t.Implements(textMarshalerType):
		n := &yaml.Node{}
		if err := n.Encode(v.Interface()); err != nil {
			return nil, fmt.Errorf("config: marshal %s: %w", t, err)
		}
		return n, nil
	case t.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for i := range t.NumField() {
			name := yamlName(t.Field(i))
			if name == "" {
				continue
			}
			child, err := toNode(v.Field(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, child)
		}
		return n, nil
	case t.Kind() == reflect.Slice && v.Len() > 0:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			child, err := toNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
		}
		return n, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		return nil, fmt.Errorf("config: marshal %s: %w", t, err)
	}
	return n, nil
}
