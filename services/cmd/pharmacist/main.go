// Command pharmacist is the pharmacist's app on the command line (see pharmacist --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/partnercli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := partnercli.RunPharmacist(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
