package fhir_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/wearables/mhealth"
)

func checkR4(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.UnmarshalR4(raw); err != nil {
		t.Fatalf("not valid R4: %v\n%s", err, raw)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}

func TestConsentResource(t *testing.T) {
	cases := map[string]struct {
		c    ledgerapi.Consent
		want []string // substrings of the JSON
	}{
		"a user, categories, purposes, an end": {
			ledgerapi.Consent{ConsentID: "c-1", PatientID: "pat-1", Grantee: ledgerapi.UserGrantee("StMarysMSP", "dr-alice"),
				Categories: []string{"labs", "conditions"}, Purposes: []string{"treatment", "emergency"}, RecordIDs: []string{},
				ExpiresAt: "2027-01-01T00:00:00Z", Status: "active", GrantedAt: "2026-12-01T10:00:00Z", GrantTxID: "tx-grant"},
			[]string{`"status":"active"`, `"system":"urn:healthexchange:user:StMarysMSP","value":"dr-alice"`, `"code":"TREAT"`, `"code":"ETREAT"`,
				`"end":"2027-01-01T00:00:00Z"`, `"code":"labs"`, `"value":"tx-grant"`, `"reference":"Patient/pat-1"`},
		},
		"an organisation, named records, revoked": {
			ledgerapi.Consent{ConsentID: "c-2", PatientID: "pat-1", Grantee: ledgerapi.Grantee{Kind: "org", ID: "ProvidersMSP"},
				Categories: []string{"labs"}, Purposes: []string{"treatment"}, RecordIDs: []string{"rec-1"}, NotBefore: "2026-12-02T00:00:00Z",
				Status: "revoked", GrantedAt: "2026-12-01T10:00:00Z", RevokedAt: "2026-12-03T10:00:00Z", GrantTxID: "tx-g", RevokeTxID: "tx-r"},
			[]string{`"status":"inactive"`, `"type":"Organization"`, `"value":"rec-1"`, `"meaning":"instance"`, `"start":"2026-12-02T00:00:00Z"`,
				`"versionId":"2"`, `"lastUpdated":"2026-12-03T10:00:00Z"`, `"value":"tx-r"`},
		},
		"a research study": {
			ledgerapi.Consent{ConsentID: "c-3", PatientID: "pat-1", Grantee: ledgerapi.Grantee{Kind: "study", ID: "study-1"},
				Categories: []string{"labs"}, Purposes: []string{"research"}, RecordIDs: []string{}, Status: "active",
				GrantedAt: "2026-12-01T10:00:00Z", GrantTxID: "tx-g"},
			[]string{`"type":"ResearchStudy"`, `"code":"HRESCH"`},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := fhir.ConsentResource(c.c)
			if err != nil {
				t.Fatal(err)
			}
			checkR4(t, raw)
			checkContains(t, raw, c.want)
		})
	}
}

func TestAuditEventResource(t *testing.T) {
	cases := map[string]struct {
		e    ledgerapi.AccessEvent
		want []string
	}{
		"an allowed read of a category": {
			ledgerapi.AccessEvent{EventID: "ev-1", Actor: "dr-alice", ActorRole: "clinician", ActorOrg: "StMarysMSP", PatientID: "pat-1",
				Action: "read", Resource: "category/labs", Purpose: "treatment", Decision: "allow", ReasonCodes: []string{"consent"},
				Time: "2026-12-01T10:00:00Z", RecordedBy: "ProvidersMSP", TxID: "tx-9"},
			[]string{`"outcome":"0"`, `"action":"R"`, "IHE.BasicAudit.Read", `"code":"TREAT"`, `"value":"tx-9"`, `"system":"urn:healthexchange:category","value":"labs"`,
				`"system":"urn:healthexchange:user:StMarysMSP","value":"dr-alice"`, `"outcomeDesc":"consent"`},
		},
		"a denied break-glass read of a record": {
			ledgerapi.AccessEvent{EventID: "ev-2", Actor: "dr-ross", ActorRole: "clinician", ActorOrg: "StMarysMSP", PatientID: "pat-1",
				Action: "read", Resource: "record/rec-1", Purpose: "emergency", Decision: "deny", BreakGlass: true, BreakGlassRef: strings.Repeat("a", 64),
				ReasonCodes: []string{"break-glass-limit"}, Time: "2026-12-01T10:00:00Z", RecordedBy: "StMarysMSP", TxID: "tx-10"},
			[]string{`"outcome":"4"`, `"code":"BTG"`, `"code":"ETREAT"`, `"system":"urn:healthexchange:record","value":"rec-1"`, `"outcomeDesc":"break-glass-limit"`},
		},
		"a patient's own write": {
			ledgerapi.AccessEvent{EventID: "ev-3", Actor: "pat-1", ActorRole: "patient", PatientID: "pat-1", Action: "write",
				Resource: "category/labs", Purpose: "treatment", Decision: "allow", ReasonCodes: []string{"patient-own-records"},
				Time: "2026-12-01T10:00:00Z", RecordedBy: "ProvidersMSP", TxID: "tx-11"},
			[]string{`"action":"C"`, "IHE.BasicAudit.Create", `"system":"urn:healthexchange:patient","value":"pat-1"`},
		},
		"the records service's tamper alarm": {
			ledgerapi.AccessEvent{EventID: "ev-4", Actor: "records-service", ActorRole: "service", ActorOrg: "ProvidersMSP", PatientID: "pat-1",
				Action: "verify", Resource: "record/rec-1", Decision: "deny", ReasonCodes: []string{"tamper-detected"},
				Time: "2026-12-01T10:00:00Z", RecordedBy: "ProvidersMSP", TxID: "tx-12"},
			[]string{`"action":"E"`, `"outcome":"4"`, `"outcomeDesc":"tamper-detected"`},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := fhir.AuditEventResource(c.e)
			if err != nil {
				t.Fatal(err)
			}
			checkR4(t, raw)
			checkContains(t, raw, c.want)
		})
	}
}

func TestReadingObservation(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	cases := map[string]struct {
		r    mhealth.Reading
		want []string
	}{
		"heart rate": {mhealth.Reading{Kind: mhealth.HeartRate, Value: 72, Unit: mhealth.UnitBeatsPerMinute, TimeFrame: mhealth.Instant(at)},
			[]string{`"code":"8867-4"`, `"value":72}`, `"code":"/min"`, "StructureDefinition/heartrate", `"effectiveDateTime":"2026-11-20T08:30:00Z"`, `"code":"vital-signs"`}},
		"blood pressure": {mhealth.Reading{Kind: mhealth.BloodPressure, Value: 120, Diastolic: 80, Unit: mhealth.UnitMmHg, TimeFrame: mhealth.Instant(at)},
			[]string{`"code":"85354-9"`, `"code":"8480-6"`, `"code":"8462-4"`, `"value":120}`, `"value":80}`, `"code":"mm[Hg]"`}},
		"oxygen saturation": {mhealth.Reading{Kind: mhealth.OxygenSaturation, Value: 97.5, Unit: mhealth.UnitPercent, TimeFrame: mhealth.Instant(at)},
			[]string{`"code":"59408-5"`, `"value":97.5}`}},
		"body temperature": {mhealth.Reading{Kind: mhealth.BodyTemperature, Value: 36.85, Unit: mhealth.UnitCelsius, TimeFrame: mhealth.Instant(at)},
			[]string{`"code":"8310-5"`, `"value":36.85}`, `"code":"Cel"`}},
		"steps": {mhealth.Reading{Kind: mhealth.StepCount, Value: 1200, Unit: mhealth.UnitSteps, TimeFrame: mhealth.Interval(at, at.Add(time.Hour))},
			[]string{`"code":"55423-8"`, `"effectivePeriod"`, `"code":"activity"`}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := fhir.ReadingObservation("pat-1", "watch-1", 7, 3, c.r)
			if err != nil {
				t.Fatal(err)
			}
			m := checkR4(t, raw)
			if id, _ := fhir.ReadingID("watch-1", 7, 3); m["id"] != id || !strings.Contains(string(raw), `"value":"watch-1/7/3"`) {
				t.Errorf("id %v in %s", m["id"], raw)
			}
			checkContains(t, raw, c.want)
		})
	}
	if _, ok := fhir.ReadingID(strings.Repeat("d", 40), 1, 1); ok {
		t.Error("an id longer than 64 characters")
	}
}

// checkContains checks that the JSON raw holds each of want.
func checkContains(t *testing.T, raw []byte, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(string(raw), w) {
			t.Errorf("missing %s in %s", w, raw)
		}
	}
}
