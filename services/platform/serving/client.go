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
	list := SplitAddrs(addrs)
	if len(list) == 0 {
		return nil, fmt.Errorf("dial %q: no address", addrs)
	}
	target := list[0]
	if len(list) > 1 {
		r := manual.NewBuilderWithScheme("hx-instances")
		state := resolver.State{}
		for _, a := range list {
			host, _, err := net.SplitHostPort(a)
			if err != nil {
				return nil, fmt.Errorf("dial %s: %w", a, err)
			}
			// Each instance's certificate is checked against its own host.
			state.Addresses = append(state.Addresses, resolver.Address{Addr: a, ServerName: host})
		}
		r.InitialState(state)
		target = r.Scheme() + ":///instances"
		opts = append(opts, grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	}
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addrs, err)
	}
	return conn, nil
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
