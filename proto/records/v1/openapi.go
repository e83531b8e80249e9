// Package recordsv1 is the generated Go code of records/v1/records.proto: the
// messages, the gRPC client and server of RecordService, its HTTP/JSON gateway
// (routes in records_http.yaml), and the OpenAPI document of those routes.
// Everything here but this file is written by `make generate`; edit the .proto
// and the YAML files, never the output.
package recordsv1

import _ "embed"

// OpenAPI is the OpenAPI 2.0 (Swagger) JSON document of the HTTP/JSON gateway
// of RecordService, generated from records.proto and records_http.yaml by
// protoc-gen-openapiv2. Serve it as is; do not modify it.
//
//go:embed records.swagger.json
var OpenAPI []byte
