// Package taplinev1 holds the protobuf messages and services of Tapline's
// query API (tapline.v1), their gRPC stubs, the grpc-gateway REST handlers
// and the OpenAPI document, all generated from the .proto files next to it
// by scripts/generate.sh. Only doc.go, openapi.go and the tests are written
// by hand.
package taplinev1

//go:generate ../../../scripts/generate.sh
