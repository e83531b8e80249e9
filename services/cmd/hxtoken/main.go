// Command hxtoken is a development identity provider: issuer keys and
// bearer tokens for demos and tests (see hxtoken --help and
// services/apps/tokencli).
package main

import (
	"context"
	"os"

	"healthexchange/services/apps/tokencli"
)

func main() {
	os.Exit(tokencli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
