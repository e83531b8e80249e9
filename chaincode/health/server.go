package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Config is how the chaincode runs as a chaincode server
// (chaincode-as-a-service). TLS is required.
type Config struct {
	// ID is the chaincode package id the peer knows the chaincode by.
	ID string
	// Address is the host:port to listen on.
	Address string
	// TLSKeyFile and TLSCertFile are the server's PEM key and certificate.
	TLSKeyFile  string
	TLSCertFile string
}

// Validate reports every missing or malformed setting.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("chaincode id is required"))
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("server address %q must be host:port", c.Address))
	}
	if c.TLSKeyFile == "" {
		errs = append(errs, errors.New("TLS key file is required"))
	}
	if c.TLSCertFile == "" {
		errs = append(errs, errors.New("TLS certificate file is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	return nil
}

// Serve runs the chaincode server until it fails or ctx is done. When ctx is
// done it returns ctx's error; the listener closes when the process exits.
func Serve(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	key, err := os.ReadFile(cfg.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("read TLS key: %w", err)
	}
	cert, err := os.ReadFile(cfg.TLSCertFile)
	if err != nil {
		return fmt.Errorf("read TLS certificate: %w", err)
	}
	cc, err := NewChaincode()
	if err != nil {
		return err
	}
	server := &shim.ChaincodeServer{
		CCID:     cfg.ID,
		Address:  cfg.Address,
		CC:       cc,
		TLSProps: shim.TLSProperties{Key: key, Cert: cert},
	}
	done := make(chan error, 1)
	go func() { done <- server.Start() }()
	select {
	case err := <-done:
		return fmt.Errorf("chaincode server: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
}
