// Command wearable simulates wearables for the ingest service (see
// wearable --help and services/apps/wearablecli).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"healthexchange/services/apps/wearablecli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := wearablecli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
