package policy_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"healthexchange/services/domain/policy"
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
	f.Add("ph-1", "pharmacist", "pharmacy-7", "read", "pat-1", "prescriptions", "", "dispensing", "", now)
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

// FuzzDatasetDecide decides arbitrary dataset requests; categories are a
// JSON list, or else comma-separated. Invariant: only a researcher of
// ResearchMSP whose token names a study, on their own dataset of that study,
// is ever allowed, a create only with known categories, each once, and k of
// at least 2; Decide never fails, never panics, and always says why.
func FuzzDatasetDecide(f *testing.F) {
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", `["labs","conditions"]`, 5)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "read", "st-1", "res-1", "", 0)
	f.Add("res-1", "researcher", "ResearchMSP", "", "read", "", "res-1", "", 0)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-2", "res-1", "labs", 2)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-2", "labs,notes", 2)
	f.Add("res-1", "researcher", "ProvidersMSP", "st-1", "create", "st-1", "res-1", "labs", 2)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", "labs,labs", 2)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", `["genome"]`, 2)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", "[]", 2)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", "labs", 1)
	f.Add("res-1", "researcher", "ResearchMSP", "st-1", "create", "st-1", "res-1", "labs", -9)
	f.Add("dr-ada", "clinician", "ResearchMSP", "st-1", "read", "st-1", "dr-ada", "", 0)
	f.Add("res-1", "RESEARCHER", "ResearchMSP", "st-1", "READ", "st-1", "res-1", "", 0)
	f.Add("", "", "", "", "", "", "", "", 0)
	f.Add("r\xff", "researcher", "ResearchMSP", "s\x00", "read", "s\x00", "r\xff", `["\u00a0"]`, 1<<62)
	e := realDatasetEngine(f)
	f.Fuzz(func(t *testing.T, id, role, org, study, action, studyID, researcher, categories string, k int) {
		var list []string
		if json.Unmarshal([]byte(categories), &list) != nil && categories != "" {
			list = strings.Split(categories, ",")
		}
		in := policy.DatasetInput{
			Subject: policy.DatasetSubject{ID: id, Role: role, Org: org, Study: study},
			Action:  action,
			Dataset: policy.DatasetRef{StudyID: studyID, Researcher: researcher, Categories: list, K: k},
		}
		d, err := e.Decide(testContext(t), in)
		if err != nil {
			t.Fatalf("Decide(%+v): %v", in, err)
		}
		if len(d.Reasons) == 0 || slices.Contains(d.Reasons, "") {
			t.Fatalf("Decide(%+v) does not say why: %q", in, d.Reasons)
		}
		if !d.Allow {
			return
		}
		if len(d.Reasons) != 1 {
			t.Errorf("Decide(%+v) allows with %d reasons", in, len(d.Reasons))
		}
		if role != "researcher" || org != "ResearchMSP" || study == "" || studyID != study || researcher != id {
			t.Fatalf("Decide(%+v) allowed another's dataset: %+v", in, d)
		}
		switch action {
		case "read":
		case "create":
			known := []string{"demographics", "conditions", "medications", "prescriptions", "allergies",
				"immunizations", "labs", "imaging", "notes", "vitals", "claims"}
			distinct := slices.Compact(slices.Sorted(slices.Values(list)))
			if k < 2 || len(list) == 0 || len(distinct) != len(list) ||
				slices.ContainsFunc(list, func(c string) bool { return !slices.Contains(known, c) }) {
				t.Fatalf("Decide(%+v) allowed an improper create: %+v", in, d)
			}
		default:
			t.Fatalf("Decide(%+v) allowed action %q", in, action)
		}
	})
}
