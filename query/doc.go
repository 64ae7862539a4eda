// Package query serves Tapline's query API (package api/tapline/v1) over
// gRPC and, through grpc-gateway, as REST/JSON under /api/v1: trace search,
// the cross-hop request timeline, access-event search, identities, TLS
// posture and pipeline health, all read from ClickHouse through a
// store.Engine.
//
// Every lookup is bounded in time, every page size and time window is capped
// by Config, and every value a caller sends reaches ClickHouse as a bound
// query parameter: the SQL text is built from constants only. Callers
// authenticate with static API tokens or OIDC access tokens and get a role
// (viewer, auditor, admin); each call is recorded as an access event with
// source "api" through a Recorder.
//
// The package must not write telemetry tables (the Recorder aside) and must
// not know how the binary wires listeners beyond Server's methods.
package query
