package yamlfields

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes n into out, refusing keys out has no field for.
func DecodeStrict(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return fmt.Errorf("re-encode yaml node: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
