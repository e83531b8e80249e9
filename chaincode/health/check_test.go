package health

import (
	"strings"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
)

func TestConsentsCheck(t *testing.T) {
	f := newFixture()
	alice, bob := newPatient("alice"), newPatient("bob")
	f.register(t, alice, bob)
	window := grantTo("e-window", "user", "ProvidersMSP/dr-y", labs, treatment)
	window.NotBefore, window.ExpiresAt = "2030-06-01T00:00:00Z", "2030-07-01T00:00:00Z"
	records := grantTo("c-records", "user", "ProvidersMSP/dr-who", []string{"notes"}, treatment)
	records.RecordIDs = []string{"r1"}
	for _, g := range []ledgerapi.ConsentGrant{
		grantTo("a-labs", "user", "ProvidersMSP/dr-who", []string{"labs", "medications"}, treatment),
		grantTo("b-org", "org", "ProvidersMSP", []string{"imaging"}, []string{"treatment", "payment"}),
		records,
		grantTo("d-revoked", "user", "ProvidersMSP/dr-x", labs, treatment),
		window,
		grantTo("f-again", "user", "ProvidersMSP/dr-who", labs, treatment),
		grantTo("g-study", "study", "study-1", labs, []string{"research"}),
	} {
		f.mustGrant(t, alice, g)
	}
	if _, err := f.revoke(t, alice, "d-revoked"); err != nil {
		t.Fatal(err)
	}

	type args struct{ patient, subject, org, category, purpose, record, at string }
	for _, tc := range []struct {
		name    string
		args    args
		clock   string // transaction time, when set
		allowed bool
		consent string
		reason  string
	}{
		{"user grantee", args{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "", ""}, "", true, "a-labs", "allowed"},
		{"first match in consent-id order wins", args{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "", ""}, "", true, "a-labs", "a-labs"},
		{"the same user name at another organisation", args{"alice", "dr-who", "StMarysMSP", "labs", "treatment", "", ""}, "", false, "", "no consent"},
		{"a user without an organisation", args{"alice", "dr-who", "", "labs", "treatment", "", ""}, "", false, "", "no consent"},
		{"org grantee matches subjectOrg", args{"alice", "nurse-1", "ProvidersMSP", "imaging", "payment", "", ""}, "", true, "b-org", "b-org"},
		{"org grantee needs subjectOrg", args{"alice", "nurse-1", "", "imaging", "payment", "", ""}, "", false, "", "no consent"},
		{"org grantee of another org", args{"alice", "nurse-1", "ResearchMSP", "imaging", "payment", "", ""}, "", false, "", "no consent"},
		{"study grantee is not a user", args{"alice", "study-1", "", "labs", "research", "", ""}, "", false, "", "no consent"},
		{"study grantee is not an org", args{"alice", "researcher-1", "study-1", "labs", "research", "", ""}, "", false, "", "no consent"},
		{"study grantee is not its researchers", args{"alice", "researcher-1", "ResearchMSP", "labs", "research", "", ""}, "", false, "", "no consent"},
		{"patient without consents", args{"bob", "dr-who", "ProvidersMSP", "labs", "treatment", "", ""}, "", false, "", "no consent"},
		{"revoked", args{"alice", "dr-x", "ProvidersMSP", "labs", "treatment", "", ""}, "", false, "d-revoked", "revoked"},
		{"not yet valid", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", "2030-05-31T23:59:59.999Z"}, "", false, "e-window", "not yet valid"},
		{"valid from notBefore", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", "2030-06-01T00:00:00Z"}, "", true, "e-window", "allowed"},
		{"valid until just before expiry", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", "2030-06-30T23:59:59.999999999Z"}, "", true, "e-window", "allowed"},
		{"expired at expiresAt", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", "2030-07-01T02:00:00+02:00"}, "", false, "e-window", "expired"},
		{"at empty means the transaction time", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", ""}, "2030-06-15T00:00:00Z", true, "e-window", "allowed"},
		{"at empty, transaction after expiry", args{"alice", "dr-y", "ProvidersMSP", "labs", "treatment", "", ""}, "2030-08-01T00:00:00Z", false, "e-window", "expired"},
		{"category not granted", args{"alice", "dr-who", "ProvidersMSP", "conditions", "treatment", "", ""}, "", false, "a-labs", "category conditions"},
		{"purpose not granted", args{"alice", "dr-who", "ProvidersMSP", "labs", "research", "", ""}, "", false, "a-labs", "purpose research"},
		{"record granted", args{"alice", "dr-who", "ProvidersMSP", "notes", "treatment", "r1", ""}, "", true, "c-records", "allowed"},
		{"record not granted", args{"alice", "dr-who", "ProvidersMSP", "notes", "treatment", "r2", ""}, "", false, "c-records", "record r2"},
		{"no record against named records", args{"alice", "dr-who", "ProvidersMSP", "notes", "treatment", "", ""}, "", false, "c-records", "record not granted"},
		{"any record under an unlimited consent", args{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "r99", ""}, "", true, "a-labs", "allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.clock != "" {
				f.clock, _ = time.Parse(time.RFC3339, tc.clock)
			}
			a := tc.args
			got, err := run(f, research, func(ctx ctxT) (*ledgerapi.Decision, error) {
				return new(Consents).Check(ctx, a.patient, a.subject, a.org, a.category, a.purpose, a.record, a.at)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != tc.allowed || got.ConsentID != tc.consent || !strings.Contains(got.Reason, tc.reason) {
				t.Fatalf("decision = %+v, want allowed=%v consent=%q reason containing %q", got, tc.allowed, tc.consent, tc.reason)
			}
		})
	}

	for _, tc := range []struct {
		name string
		args args
		want error
	}{
		{"unknown patient", args{"carol", "dr-who", "", "labs", "treatment", "", ""}, ledgerapi.ErrNotFound},
		{"bad patient id", args{"", "dr-who", "", "labs", "treatment", "", ""}, ledgerapi.ErrInvalid},
		{"bad subject id", args{"alice", "dr who", "", "labs", "treatment", "", ""}, ledgerapi.ErrInvalid},
		{"bad subjectOrg", args{"alice", "dr-who", "/org", "labs", "treatment", "", ""}, ledgerapi.ErrInvalid},
		{"unknown category", args{"alice", "dr-who", "ProvidersMSP", "lab", "treatment", "", ""}, ledgerapi.ErrInvalid},
		{"unknown purpose", args{"alice", "dr-who", "ProvidersMSP", "labs", "marketing", "", ""}, ledgerapi.ErrInvalid},
		{"bad record id", args{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "r\n1", ""}, ledgerapi.ErrInvalid},
		{"bad at", args{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "", "yesterday"}, ledgerapi.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.args
			_, err := run(f, providers, func(ctx ctxT) (*ledgerapi.Decision, error) {
				return new(Consents).Check(ctx, a.patient, a.subject, a.org, a.category, a.purpose, a.record, a.at)
			})
			wantErr(t, err, tc.want)
		})
	}
}
