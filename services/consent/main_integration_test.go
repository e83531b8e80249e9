//go:build integration

package consent_test

import (
	"fmt"
	"os"
	"testing"

	"healthexchange/services/dev/itest"
)

// These tests run the real consentd binary against the real test network
// (make test-integration brings it up), with the real policies, through the
// itest harness.

var consentdBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := itest.Build("healthexchange/services/cmd/consentd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	consentdBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}
