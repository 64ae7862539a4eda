// Package proxybench measures the proxy tap against a direct request to the
// upstream and against Debian's nginx doing the same mTLS proxying, with one
// load tool in one run: keep-alive HTTP/1.1 clients (mutual TLS where the
// target asks for it) posting 1 KiB bodies and reading 1 KiB answers.
//
// Load is the load generator. The benchmark (bench_test.go, run by `make
// bench`) starts the upstream, the tap and nginx as separate processes so
// that the load generator shares no runtime with what it measures.
package proxybench
