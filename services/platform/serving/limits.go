package serving

import (
	"errors"
	"time"
)

// Limits bound what one request may cost a service's servers.
type Limits struct {
	// MaxBody bounds an HTTP request's body in bytes.
	MaxBody int64
	// MaxRecvMsg bounds a gRPC message the server receives; MaxGatewaySend
	// one the HTTP gateway sends on to the gRPC server (the body's message).
	MaxRecvMsg     int
	MaxGatewaySend int
	// ReadHeaderTimeout and ReadTimeout bound reading an HTTP request's
	// headers and the whole request; IdleTimeout how long a kept-alive
	// connection waits for the next request.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
}

// DefaultLimits are the limits of a service that does not choose others:
// 1 MiB bodies, gRPC's own 4 MiB messages, and timeouts that a slow client
// cannot hold a connection open past.
func DefaultLimits() Limits {
	return Limits{
		MaxBody:           1 << 20,
		MaxRecvMsg:        4 << 20,
		MaxGatewaySend:    4 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
}

// Validate refuses a limit that is not positive.
func (l Limits) Validate() error {
	if l.MaxBody <= 0 || l.MaxRecvMsg <= 0 || l.MaxGatewaySend <= 0 {
		return errors.New("limits: the body and message limits must be positive")
	}
	if l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= 0 || l.IdleTimeout <= 0 {
		return errors.New("limits: every timeout must be positive")
	}
	return nil
}
