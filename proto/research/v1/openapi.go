// Package researchv1 is the generated Go code of research/v1/research.proto: the
// messages, the gRPC client and server of ResearchService, its HTTP/JSON gateway
// (routes in research_http.yaml), and the OpenAPI document of those routes.
// Everything here but this file is written by `make generate`; edit the .proto
// and the YAML files, never the output.
package researchv1

import _ "embed"

// OpenAPI is the OpenAPI 2.0 (Swagger) JSON document of the HTTP/JSON gateway
// of ResearchService, generated from research.proto and research_http.yaml by
// protoc-gen-openapiv2. Serve it as is; do not modify it.
//
//go:embed research.swagger.json
var OpenAPI []byte
