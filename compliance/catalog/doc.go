// Package catalog is the control catalogue as data: the frameworks (SOC 2,
// ISO/IEC 27001:2022 Annex A), their controls with short titles and
// descriptions in Tapline's own words, and the checks, with the
// many-to-many mapping between controls and checks. It is embedded YAML
// (catalog.yaml), loaded and checked once.
//
// It must not hold thresholds (those are configuration, package checks) or
// run anything.
package catalog
