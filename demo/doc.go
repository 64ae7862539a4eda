// Package demo runs Tapline's demo stack on one machine, without Docker:
// `tapline run` (embedded NATS and ClickHouse, collector with the Nginx
// syslog receiver, ingest, query API, UI, compliance scheduler and the
// proxy tap), the FastAPI application behind the tap, and Debian's Nginx in
// front of it (public TLS towards clients, mTLS towards the tap, its JSON
// access log to the collector over syslog). Certificates are made on the
// first run (package pki), configuration comes from the files in
// demo/config, embedded here, with the addresses of this run filled in.
//
// `tapline demo` and the end-to-end tests (package e2e) both start the stack
// with Start, so there is one copy of the wiring. The package starts and
// stops processes; it holds no data of its own and must not be used to run
// production services.
package demo
