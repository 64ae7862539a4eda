// Package accesslogtest holds test helpers for access events: a stable,
// readable rendering of log records for exact comparisons and golden files.
package accesslogtest
