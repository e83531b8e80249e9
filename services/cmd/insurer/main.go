// Command insurer is the insurer's app on the command line (see insurer --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/partnercli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := partnercli.RunInsurer(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
