// Package config is Tapline's one configuration file: the top-level Config
// with one named section per part of the system, its defaults, strict YAML
// loading (unknown keys are errors with their line), TAPLINE_* environment
// variables and --set style overrides derived from the YAML paths, validation
// that names the key, and printing with secrets masked.
//
// Each section is its own type with Default() and Validate(), owned by the
// package it configures where that package exists (bus.Config,
// schema.Options); this package only assembles them. It must not start
// anything or open connections.
package config
