// Package daemon is the one skeleton every service daemon of the exchange
// (consentd, recordsd, ingestd, researchd) runs in. A daemon's main names the
// service, adds its own flags and builds it; the skeleton owns the rest: the
// flags every daemon shares (each with an HX_<DAEMON>_<FLAG> environment
// fallback, and defaults from a profile such as the development network's
// description), logs, traces, the token verifier, the gRPC server and the
// HTTP/JSON gateway with their limits and timeouts, the health service,
// profiling, the backends a service stands on (ledger, object storage,
// vault, decision service: opened when the service asks, closed when it
// stops) and a graceful stop.
//
// It must never start a service whose configuration is incomplete or
// unsafe (every problem is reported at once, before anything listens), nor
// leave a backend open when start-up fails.
package daemon
