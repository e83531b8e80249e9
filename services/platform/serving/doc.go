// Package serving is how every service of the exchange serves: its gRPC
// server (mutual TLS, traced, every call but the health checks and the
// service's public methods authenticated) and its HTTP/JSON gateway (TLS,
// calling the gRPC server with the service's own client certificate, the
// OpenAPI document at /openapi.json), within their limits and timeouts, both
// stopped gracefully; the one translation of a service's errors into gRPC
// statuses; and the address and TLS checks a configuration uses. It must
// never serve without TLS, nor show a caller an internal error: an error the
// service has not mapped is Internal, logged here and not told. Which
// addresses a service may listen on is its configuration's to decide
// (services/platform/daemon: loopback only in development).
package serving
