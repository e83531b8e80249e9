// Package failover says when a call that failed at one endpoint of a
// replicated service may be made at another: only when no connection could
// be made, so nothing was sent. It must never say so of an error that came
// after a request left: that request may have been carried out.
package failover

import (
	"errors"
	"net"
	"syscall"
)

// NotConnected reports whether err says no connection to the endpoint
// could be made (the name unknown, the dial refused or unroutable): the
// call may go to another endpoint.
func NotConnected(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
