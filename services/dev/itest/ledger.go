package itest

import (
	"testing"

	"healthexchange/services/platform/ledger"
)

// Ledger is a ledger client acting as org, as the network description at
// networkFile (a network.json) describes it, closed when the test ends.
func Ledger(t testing.TB, networkFile, org string) *ledger.Client {
	t.Helper()
	cfg, err := ledger.ConfigFromNetworkFile(networkFile, org)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ledger.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
