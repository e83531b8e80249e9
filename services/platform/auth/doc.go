// Package auth decides who is calling a service: it verifies the bearer JWTs
// that users' organisations issue (EdDSA or ES256 only, against configured
// issuer public keys), turns the claims into a Principal, and provides the
// gRPC interceptors that put that Principal into every request's context and
// the client credentials that send or forward a token.
//
// It fails closed: a token it cannot verify against a configured public key,
// or whose claims are incomplete, is rejected, and a request without a
// verified Principal never reaches a handler unless its method is explicitly
// public. It never holds signing keys or shared secrets, and it never puts a
// token into an error message or a log.
package auth
