// Package e2e holds the end-to-end tests: the demo stack (package demo)
// with built binaries, real Nginx, the real FastAPI application, the proxy
// tap and embedded ClickHouse on free ports in a temporary directory, a
// known set of requests, and assertions made through the query API, a
// compliance report and the UI in headless Chromium. It has no non-test
// code.
package e2e
