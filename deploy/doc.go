// Package deploy holds no code: it is where the production deployment
// lives (the repository's compose.yaml, and under deploy/ the image
// Dockerfile, the certificate script, the ClickHouse, NATS and Nginx
// settings compose mounts, and the scaling notes in README.md), and its
// tests check them: compose.yaml is valid for docker-compose, every file it
// mounts exists, every long-running service has a health check, published
// ports do not clash, and the Tapline configuration each service runs
// with — the demo's file plus the service's TAPLINE_* variables — loads
// strictly and validates with the real config package, as do the example
// configurations in deploy/README.md and the README's quick start.
//
// The package must not start containers or reach a Docker engine.
package deploy
