package accesslogprocessor

import (
	"errors"
	"fmt"
)

// Config is the processor's configuration.
type Config struct {
	// EnvoyLogNames limits rule 3 to records whose resource log_name is one
	// of these (Envoy's common_config.log_name, Istio's envoyOtelAls
	// logName); empty means any log_name.
	EnvoyLogNames []string `mapstructure:"envoy_log_names"`
	// DetectJSONBodies turns on rule 4: records without a hint whose body is
	// an Nginx or Envoy/Istio JSON access-log line are mapped.
	DetectJSONBodies bool `mapstructure:"detect_json_bodies"`
	// AddNode copies Envoy's node_name resource attribute into tapline.node.
	AddNode bool `mapstructure:"add_node"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	for i, n := range c.EnvoyLogNames {
		if n == "" {
			errs = append(errs, fmt.Errorf("envoy_log_names[%d] must not be empty", i))
		}
	}
	return errors.Join(errs...)
}
