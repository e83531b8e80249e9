package auth_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"healthexchange/services/platform/auth"
)

func TestParseScopes(t *testing.T) {
	cases := []struct {
		claim string
		want  []auth.Scope
	}{
		{"", nil},
		{"openid fhirUser launch/patient offline_access", nil},
		{"patient/Observation.rs", []auth.Scope{{Context: "patient", Type: "Observation", Permissions: "rs"}}},
		{"user/*.cruds system/Condition.r", []auth.Scope{{Context: "user", Type: "*", Permissions: "cruds"}, {Context: "system", Type: "Condition", Permissions: "r"}}},
		{"patient/Observation.rs?category=laboratory", []auth.Scope{{Context: "patient", Type: "Observation", Permissions: "rs", Category: "laboratory"}}},
		{"patient/Observation.read user/*.write user/Condition.*", []auth.Scope{
			{Context: "patient", Type: "Observation", Permissions: "rs"}, {Context: "user", Type: "*", Permissions: "cud"}, {Context: "user", Type: "Condition", Permissions: "cruds"}}},
	}
	for _, c := range cases {
		t.Run(c.claim, func(t *testing.T) {
			got, err := auth.ParseScopes(c.claim)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, bad := range []string{
		"patient/Observation", "patient/observation.rs", "patient/Observation.sr", "patient/Observation.rr", "patient/Observation.x",
		"user/Obs-ervation.rs", "patient/Observation.rs?code=1234", "patient/Observation.rs?category=a|b", "patient/Observation.rs?category=",
		"user/.rs", "patient/Observation.",
	} {
		if _, err := auth.ParseScopes(bad); !errors.Is(err, auth.ErrInvalidClaims) {
			t.Errorf("ParseScopes(%q) = %v, want ErrInvalidClaims", bad, err)
		}
	}
}

func TestScopePermits(t *testing.T) {
	p := auth.Principal{Subject: "app-user", Role: auth.RoleClinician, Org: "ProvidersMSP", Scoped: true,
		Scopes: "patient/AuditEvent.rs user/Consent.r", LaunchPatient: "pat-1"}
	for _, c := range []struct {
		typ, interaction, patient string
		want                      bool
	}{
		{"AuditEvent", "s", "pat-1", true},
		{"AuditEvent", "s", "pat-2", false},
		{"Consent", "r", "pat-2", true},
		{"Consent", "s", "pat-1", false},
		{"Observation", "r", "pat-1", false},
	} {
		if got := p.ScopePermits(c.typ, c.interaction, c.patient); got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
	if !(auth.Principal{Subject: "x", Role: auth.RolePatient}).ScopePermits("Consent", "s", "x") {
		t.Error("an unscoped caller is limited by scopes")
	}
	if (auth.Principal{Subject: "x", Role: auth.RolePatient, Scoped: true}).ScopePermits("Consent", "s", "x") {
		t.Error("a scope claim without resource scopes allows")
	}
}

func TestVerifyReadsSMARTScopes(t *testing.T) {
	f := newFixture(t)
	p, err := f.v.Verify(f.edToken(t, claims(map[string]any{"scope": "openid patient/Observation.read user/Condition.rs?category=problem-list-item", "patient": "pat-9"})))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Scoped || p.Scopes != "patient/Observation.rs user/Condition.rs?category=problem-list-item" || p.LaunchPatient != "pat-9" {
		t.Errorf("principal %+v", p)
	}
	// A scope claim with no resource scope is still a scoped token: it may
	// read nothing.
	if p, err := f.v.Verify(f.edToken(t, claims(map[string]any{"scope": "openid"}))); err != nil || !p.Scoped || p.Scopes != "" {
		t.Errorf("openid only: %+v %v", p, err)
	}
	// Without the claim, no scopes.
	if p, err := f.v.Verify(f.edToken(t, claims(nil))); err != nil || p.Scoped {
		t.Errorf("no claim: %+v %v", p, err)
	}
	// A patient's launch context is themselves, whatever the token says.
	pat := claims(map[string]any{"iss": patientsIdP, "sub": "pat-1", "role": "patient", "org": nil, "scope": "patient/*.rs", "patient": "pat-2"})
	if p, err := f.v.Verify(f.edToken(t, pat)); err != nil || p.LaunchPatient != "pat-1" {
		t.Errorf("patient: %+v %v", p, err)
	}
	for name, edit := range map[string]map[string]any{
		"a malformed scope":            {"scope": "patient/Observation.sr"},
		"a restriction not supported":  {"scope": "patient/Observation.rs?code=x"},
		"a scope that is not a string": {"scope": []string{"patient/Observation.rs"}},
		"a launch patient not an id":   {"scope": "patient/*.rs", "patient": "a b"},
	} {
		if _, err := f.v.Verify(f.edToken(t, claims(edit))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseScopes: no claim makes ParseScopes panic; every scope it
// returns is well formed and reads back as itself.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"patient/Observation.rs", "user/*.cruds system/Condition.r openid", "patient/Observation.read?category=laboratory",
		"patient/Observation.sr", "user/x.rs", "patient/Observation.rs?category=a|b", "launch/patient fhirUser"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, claim string) {
		scopes, err := auth.ParseScopes(claim)
		if err != nil {
			return
		}
		for _, s := range scopes {
			again, err := auth.ParseScopes(s.String())
			if err != nil || len(again) != 1 || again[0] != s {
				t.Fatalf("scope %+v reads back as %+v (%v)", s, again, err)
			}
		}
	})
}
