package demo

import (
	"embed"
	"fmt"
)

// The demo's configuration files, as committed in demo/config.
//
//go:embed config/tapline.yaml config/nginx/tapline.conf.template
var configFS embed.FS

// Paths of the embedded files, relative to demo/.
const (
	TaplineConfigFile = "config/tapline.yaml"
	NginxTemplateFile = "config/nginx/tapline.conf.template"
)

// ConfigFile returns one of the embedded configuration files.
func ConfigFile(name string) ([]byte, error) {
	b, err := configFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("demo configuration %s: %w", name, err)
	}
	return b, nil
}
