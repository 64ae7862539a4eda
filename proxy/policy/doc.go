// Package policy decides, per route, whether a caller may pass the proxy tap.
//
// A policy is a list of allow rules; a rule matches when all its conditions
// hold (the caller's SPIFFE ID matches one of its patterns; a valid JWT
// carries its scopes and claims), and the policy allows when any rule
// matches. In enforce mode a refusal is a deny (403 with the reason); in
// observe mode the request passes and the decision is recorded as observe
// ("would deny"). Every decision carries the policy name and a
// machine-readable reason in the manner of Pomerium's allow/deny reasons.
//
// A bearer token that was sent and failed validation is never ignored: a
// route with a policy refuses it with the token's reason even when another
// rule would let the caller in by certificate alone.
//
// The package only decides; identities come from package identity, and
// writing the response and the record is the proxy's job.
package policy
