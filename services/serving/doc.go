// Package serving is how every service of the exchange serves, on loopback
// only: its gRPC server (mutual TLS, traced, every call but the health
// checks and the service's public methods authenticated) and its HTTP/JSON
// gateway (TLS, calling the gRPC server with the service's own client
// certificate, the OpenAPI document at /openapi.json), both stopped
// gracefully; the one translation of a service's errors into gRPC statuses;
// and the address and TLS checks every service's configuration shares. It
// must never listen on an address that is not loopback, never serve without
// TLS, and never show a caller an internal error: an error the service has
// not mapped is Internal, logged here and not told.
package serving
