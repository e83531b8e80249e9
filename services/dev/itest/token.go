package itest

import (
	"testing"
	"time"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/auth/devissuer"
)

// IssuedTokenIn issues claims as the development identity provider of the
// organisation issuerOrg ("" for the patients') of the network env
// describes (the high-availability profile's, for one), valid for an hour.
func IssuedTokenIn(t testing.TB, env devenv.Env, issuerOrg string, c devissuer.Claims) string {
	t.Helper()
	idp, err := env.IdPFor(issuerOrg)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := devissuer.Load(idp.Issuer, idp.Key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
