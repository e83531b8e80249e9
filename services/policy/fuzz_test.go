package policy_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"healthexchange/services/policy"
)

// FuzzDecide decides arbitrary requests without consents. Invariant: only a
// patient on their own records, or a clinician's well-formed break-glass
// read, is ever allowed; Decide never fails, never panics, and always says
// why.
func FuzzDecide(f *testing.F) {
	f.Add("pat-1", "patient", "", "read", "pat-1", "labs", "", "", "", "")
	f.Add("pat-1", "patient", "", "write", "pat-2", "notes", "rec-1", "treatment", "", now)
	f.Add("dr-ada", "clinician", "clinic-north", "read", "pat-1", "labs", "rec-1", "treatment", "", now)
	f.Add("dr-ada", "clinician", "clinic-north", "read", "pat-1", "notes", "", "emergency", "unconscious on arrival", now)
	f.Add("dr-ada", "clinician", "", "write", "pat-1", "notes", "", "emergency", "unconscious on arrival", now)
	f.Add("dr-ada", "clinician", "", "read", "pat-1", "notes", "", "emergency", "   short   ", now)
	f.Add("ph-1", "pharmacist", "pharmacy-7", "read", "pat-1", "prescriptions", "", "treatment", "", now)
	f.Add("ins-1", "insurer", "x", "read", "pat-1", "claims", "", "payment", "", "2300-01-01T00:00:00Z")
	f.Add("res-1", "researcher", "uni", "read", "pat-1", "labs", "", "research", "", now)
	f.Add("", "", "", "", "", "", "", "", "", "")
	f.Add("pat-1", "PATIENT", "", "READ", "pat-1", "labs", "", "", "", "not a time")
	f.Add("a\xff", "patient", "\x00", "read", "a\xff", "labs", "r/1", "x", "\u00a0\u2003", "2030-13-01T00:00:00Z")
	e := realEngine(f)
	f.Fuzz(func(t *testing.T, subject, role, org, action, patient, category, record, purpose, reason, at string) {
		in := policy.Input{
			Subject:          policy.Subject{ID: subject, Role: role, Org: org},
			Action:           action,
			Resource:         policy.Resource{PatientID: patient, Category: category, RecordID: record},
			Purpose:          purpose,
			BreakGlassReason: reason,
			Time:             at,
		}
		d, err := e.Decide(testContext(t), in)
		if err != nil {
			t.Fatalf("Decide(%+v): %v", in, err)
		}
		if len(d.Reasons) == 0 {
			t.Fatalf("Decide(%+v) gives no reason", in)
		}
		if !d.Allow {
			if len(d.Obligations) != 0 || d.ConsentID != "" {
				t.Fatalf("Decide(%+v): a deny with obligations %q or consent %q", in, d.Obligations, d.ConsentID)
			}
			return
		}
		ownRecords := role == "patient" && subject != "" && subject == patient
		breakGlass := role == "clinician" && purpose == "emergency" && action == "read" &&
			utf8.RuneCountInString(strings.TrimSpace(reason)) >= 10
		if !ownRecords && !breakGlass {
			t.Fatalf("Decide(%+v) allowed without consent: %+v", in, d)
		}
		if d.ConsentID != "" {
			t.Fatalf("Decide(%+v) names consent %q with no consent given", in, d.ConsentID)
		}
	})
}
