// Command health-cc runs the health chaincode as a chaincode server
// (chaincode-as-a-service), configured from the environment:
// CHAINCODE_ID, CHAINCODE_SERVER_ADDRESS, CHAINCODE_TLS_KEY_FILE and
// CHAINCODE_TLS_CERT_FILE.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"healthexchange/chaincode/health"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "health chaincode: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := health.Serve(ctx, health.Config{
		ID:          os.Getenv("CHAINCODE_ID"),
		Address:     os.Getenv("CHAINCODE_SERVER_ADDRESS"),
		TLSKeyFile:  os.Getenv("CHAINCODE_TLS_KEY_FILE"),
		TLSCertFile: os.Getenv("CHAINCODE_TLS_CERT_FILE"),
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
