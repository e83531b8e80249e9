package serving

import (
	"fmt"
	"net"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"healthexchange/services/platform/mtls"
)

// DialAsCaller is a connection to another service of the exchange (the
// consent service's decision point) with this service's certificate, traced.
// Calls carry no token: a person's token is for the service it was issued
// to, and never travels further; a service names who is acting in the
// request and is trusted for it by its certificate.
//
// addrs is one host:port, or several separated by commas: the instances of
// a replicated service. Calls are then spread over the instances that are
// up (round robin); an instance that goes down is left out until it is back,
// so callers carry on against the others (a call in flight on the instance
// that died fails, and the caller's enforcement denies it).
func DialAsCaller(tls TLSFiles, addrs string) (*grpc.ClientConn, error) {
	clientTLS, err := mtls.ClientConfig(tls.CAFile, tls.CertFile, tls.KeyFile, "")
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	}
	target, spread, err := Instances(SplitAddrs(addrs))
	if err != nil {
		return nil, fmt.Errorf("%w (%q)", err, addrs)
	}
	opts = append(opts, spread...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addrs, err)
	}
	return conn, nil
}

// Instances is the dial target and options that spread calls over the
// instances at list (round robin over those that are up: one that goes
// down is left out until it is back). A single address is dialled as it
// is. Each instance's TLS certificate is checked against its own host,
// unless the connection's credentials name the server themselves (the
// ledger's peers, which share their organisation's gateway name).
func Instances(list []string) (string, []grpc.DialOption, error) {
	switch len(list) {
	case 0:
		return "", nil, fmt.Errorf("dial: no address")
	case 1:
		return list[0], nil, nil
	}
	r := manual.NewBuilderWithScheme("hx-instances")
	state := resolver.State{}
	for _, a := range list {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return "", nil, fmt.Errorf("dial %s: %w", a, err)
		}
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a, ServerName: host})
	}
	r.InitialState(state)
	return r.Scheme() + ":///instances", []grpc.DialOption{grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`)}, nil
}

// SplitAddrs is a comma-separated list of addresses as a slice, blanks
// dropped.
func SplitAddrs(addrs string) []string {
	var out []string
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
