package serving

import (
	"errors"
	"fmt"
	"net"
)

// TLSFiles are a service's certificate and key and the CA it trusts.
type TLSFiles struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// Check reports a missing file, as service's configuration error.
func (f TLSFiles) Check(service string) error {
	if f.CertFile == "" || f.KeyFile == "" || f.CAFile == "" {
		return errors.New(service + " config: TLS certificate, key and CA are all required")
	}
	return nil
}

// NamedAddr is an address and what it is for ("grpc address"), for the
// error that refuses it.
type NamedAddr struct {
	Name string
	Addr string
}

// CheckLoopback reports, as service's configuration errors, every address
// that is not host:port with a loopback IP address (a host name is refused:
// it could resolve to anything).
func CheckLoopback(service string, addrs ...NamedAddr) error {
	var errs []error
	for _, a := range addrs {
		if err := loopback(a.Addr); err != nil {
			errs = append(errs, fmt.Errorf("%s config: %s %w", service, a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// loopback refuses addr unless it is host:port with a loopback IP address.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q must be a loopback address", addr)
	}
	return nil
}
