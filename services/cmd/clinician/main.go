// Command clinician is the clinician's app on the command line: store, read,
// list and verify patients' records (see clinician --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/cliniciancli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cliniciancli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
