// Package ingestv1 is the generated Go code of ingest/v1/ingest.proto: the
// messages, the gRPC client and server of IngestService, its HTTP/JSON gateway
// (routes in ingest_http.yaml), and the OpenAPI document of those routes.
// Everything here but this file is written by `make generate`; edit the .proto
// and the YAML files, never the output.
package ingestv1

import _ "embed"

// OpenAPI is the OpenAPI 2.0 (Swagger) JSON document of the HTTP/JSON gateway
// of IngestService, generated from ingest.proto and ingest_http.yaml by
// protoc-gen-openapiv2. Serve it as is; do not modify it.
//
//go:embed ingest.swagger.json
var OpenAPI []byte
