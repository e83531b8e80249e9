package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/wearables/device"
)

// RunConfig is a simulator run: the streaming Config, the service, and the
// key files of the devices (see wearables/device).
type RunConfig struct {
	Config
	// Server is the ingest service's gRPC address, host:port.
	Server string
	// TLS is the client's TLS configuration (mtls.ClientConfig); required.
	TLS *tls.Config
	// DeviceKeys are the devices' key files, one device each.
	DeviceKeys []string
}

// NewRunConfig returns NewConfig's defaults; the caller sets the server,
// TLS and device keys.
func NewRunConfig() RunConfig {
	return RunConfig{Config: NewConfig()}
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c RunConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	switch {
	case c.Server == "":
		return fmt.Errorf("%w: no server address", ErrConfig)
	case c.TLS == nil:
		return fmt.Errorf("%w: no TLS configuration (the ingest service takes mutual TLS only)", ErrConfig)
	case len(c.DeviceKeys) == 0:
		return fmt.Errorf("%w: no device key file", ErrConfig)
	}
	return nil
}

// Dial returns a client connection to the ingest service at server over
// TLS. It does not connect until the first call.
func Dial(server string, tlsCfg *tls.Config) (*grpc.ClientConn, error) {
	if tlsCfg == nil {
		return nil, fmt.Errorf("%w: no TLS configuration", ErrConfig)
	}
	conn, err := grpc.NewClient(server,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		// Reconnect about as fast as the streams retry, not grpc's 1 s floor.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 10 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("sim: dial %s: %w", server, err)
	}
	return conn, nil
}

// Run opens the devices' key files, connects to the service and runs them
// as a Fleet (see Fleet.Run).
func Run(ctx context.Context, cfg RunConfig) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	devices := make([]Device, 0, len(cfg.DeviceKeys))
	for _, path := range cfg.DeviceKeys {
		d, err := device.Open(path)
		if err != nil {
			return Summary{}, err
		}
		devices = append(devices, d)
	}
	conn, err := Dial(cfg.Server, cfg.TLS)
	if err != nil {
		return Summary{}, err
	}
	defer conn.Close()
	fleet, err := NewFleet(ingestv1.NewIngestServiceClient(conn), devices, cfg.Config)
	if err != nil {
		return Summary{}, err
	}
	return fleet.Run(ctx)
}
