package taplinev1

import _ "embed"

// OpenAPI is the OpenAPI v2 document of the REST API, generated from the
// .proto files by protoc-gen-openapiv2.
//
//go:embed openapi.swagger.json
var OpenAPI []byte
