// Command patient is the patient's app on the command line: keys, consents,
// access log and access requests (see patient --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/patientcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := patientcli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
