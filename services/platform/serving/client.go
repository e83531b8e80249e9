package serving

import (
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"healthexchange/services/platform/mtls"
)

// DialAsCaller is a connection to another service of the exchange (the
// consent service's decision point) with this service's certificate, traced.
// Calls carry no token: a person's token is for the service it was issued
// to, and never travels further; a service names who is acting in the
// request and is trusted for it by its certificate.
func DialAsCaller(tls TLSFiles, addr string) (*grpc.ClientConn, error) {
	clientTLS, err := mtls.ClientConfig(tls.CAFile, tls.CertFile, tls.KeyFile, "")
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}
