// Command verifier checks a SMART Health Card of the exchange, with no
// account and no token (see verifier --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/verifiercli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := verifiercli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
