// Package uitest runs the web UI for tests: the real query API over a chDB
// engine (seeded through the real pipeline by the caller), the UI over it
// in process, and both behind one HTTP listener as the binary mounts them.
// It also finds Chromium for the browser tests.
package uitest
