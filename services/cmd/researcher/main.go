// Command researcher is the researcher's app on the command line: ask for
// anonymized datasets of a study, follow them, download them (see
// researcher --help).
package main

import (
	"context"
	"os"
	"os/signal"

	"healthexchange/services/apps/researchercli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := researchercli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
