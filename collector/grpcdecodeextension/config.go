package grpcdecodeextension

// Config is the extension's configuration. It has no settings: listing the
// extension under service.extensions and the receiver's
// protocols.grpc.middlewares is all it takes.
type Config struct{}

// Validate accepts the (empty) configuration.
func (*Config) Validate() error { return nil }
