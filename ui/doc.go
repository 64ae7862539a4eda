// Package ui is Tapline's web UI: server-rendered pages (html/template over
// an echo router) for trace and access-event search, the cross-hop request
// timeline, identities, TLS posture, compliance reports and pipeline health.
// Its CSS, JavaScript and templates are embedded in the binary; pages make
// no request to any other origin and run under a strict
// Content-Security-Policy (no inline script or style).
//
// The UI reads everything through the query API's Go interfaces, in
// process (see NewInProcess), with the signed-in user's credentials: the
// API's authentication, roles and access records apply to every page. Every
// page's state is in its URL, so a page can be bookmarked and shared.
//
// The package must not read telemetry tables itself; the compliance pages
// read the compliance tables through package compliance and the few queries
// in sql/.
package ui
