package serving

import (
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/mtls"
)

// DialAsCaller is a connection to another service of the exchange (the
// consent service's decision point) with this service's certificate, on
// which every call carries the token of the request it is made for
// (auth.ForwardBearer), traced.
func DialAsCaller(tls TLSFiles, addr string) (*grpc.ClientConn, error) {
	clientTLS, err := mtls.ClientConfig(tls.CAFile, tls.CertFile, tls.KeyFile, "")
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS)),
		grpc.WithPerRPCCredentials(auth.ForwardBearer()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return conn, nil
}
