// Package consentv1 is the generated Go code of consent/v1/consent.proto: the
// messages, the gRPC clients and servers of ConsentService and DecisionService,
// their HTTP/JSON gateway (routes in consent_http.yaml), and the OpenAPI
// document of those routes. Everything here but this file is written by
// `make generate`; edit the .proto and the YAML files, never the output.
package consentv1

import _ "embed"

// OpenAPI is the OpenAPI 2.0 (Swagger) JSON document of the HTTP/JSON gateway
// of ConsentService and DecisionService, generated from consent.proto and
// consent_http.yaml by protoc-gen-openapiv2. Serve it as is; do not modify it.
//
//go:embed consent.swagger.json
var OpenAPI []byte
