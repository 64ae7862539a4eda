// Package yamlfields decodes a YAML node strictly from inside an
// UnmarshalYAML method, where yaml.v3 forgets the decoder's KnownFields
// setting: a type that starts from its defaults must still refuse unknown
// keys.
package yamlfields
