package ledgerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Valid documents of every input type, built fresh for each use.
func validRegistration() PatientRegistration {
	return PatientRegistration{Header: Header{Op: OpPatientRegister, PatientID: "alice"}, OwnKeys: OwnKeys{PublicKey: publicKeyOf(testKey("alice"))}}
}

func validGrant() ConsentGrant {
	return ConsentGrant{
		Header:     Header{Op: OpConsentGrant, Nonce: 1, PatientID: "alice"},
		ConsentID:  "c1",
		Grantee:    Grantee{Kind: GranteeUser, ID: "ProvidersMSP/dr-who"},
		Categories: []string{"labs", "vitals"},
		Purposes:   []string{"treatment"},
		RecordIDs:  []string{"r1"},
		NotBefore:  "2030-01-01T00:00:00Z",
		ExpiresAt:  "2031-01-01T00:00:00Z",
	}
}

func validRevocation() ConsentRevocation {
	return ConsentRevocation{Header: Header{Op: OpConsentRevoke, Nonce: 2, PatientID: "alice"}, ConsentID: "c1"}
}

func validDevice() DeviceRegistration {
	return DeviceRegistration{Header: Header{Op: OpDeviceRegister, Nonce: 3, PatientID: "alice"}, DeviceID: "watch-1", PublicKey: publicKeyOf(testKey("watch-1"))}
}

func validDeviceRevocation() DeviceRevocation {
	return DeviceRevocation{Header: Header{Op: OpDeviceRevoke, Nonce: 4, PatientID: "alice"}, DeviceID: "watch-1"}
}

func validEvent(id string) AccessEvent {
	return AccessEvent{EventID: id, Actor: "dr-who", ActorRole: RoleClinician, ActorOrg: "ProvidersMSP", PatientID: "alice", Action: ActionRead,
		Resource: "record/r1", Purpose: "treatment", Decision: DecisionAllow, ReasonCodes: []string{"consent"}, Time: "2030-01-01T00:00:00Z"}
}

func validRotation() KeyRotation {
	return KeyRotation{Header: Header{Op: OpKeyRotate, Nonce: 5, PatientID: "alice"}, NewPublicKey: publicKeyOf(testKey("alice-2"))}
}

func validRecovery() RecoveryRequest {
	return RecoveryRequest{Header: Header{Op: OpRecoveryRequest, Nonce: 1, PatientID: "alice"}, NewPublicKey: publicKeyOf(testKey("alice-2"))}
}

func validCancel() RecoveryCancel {
	return RecoveryCancel{Header: Header{Op: OpRecoveryCancel, Nonce: 6, PatientID: "alice"}}
}

func validErasure() PatientErasure {
	return PatientErasure{Header: Header{Op: OpPatientErase, Nonce: 7, PatientID: "alice"}, ErasureID: "erasure-alice"}
}

func validCounts() ErasureCounts {
	return ErasureCounts{RecordObjects: 3, WearableObjects: 10, KeyID: "k1"}
}

func validEvents() AccessEvents { return AccessEvents{validEvent("e1"), validEvent("e2")} }

func validRelease() DatasetReleaseRequest {
	return DatasetReleaseRequest{DatasetID: "ds1", SHA256: strings.Repeat("ab", 32), StudyID: "study-1", Researcher: "res-1",
		CohortSize: 2, K: 5, ConsentIDs: []string{"c1", "c2"}}
}

// edit changes a valid document; field is what the error must name, "" when
// the result is still valid.
type edit[T any] struct {
	name   string
	change func(v *T)
	field  string
}

// testEdits parses every edited document and checks the outcome.
func testEdits[T any, P Input[T]](t *testing.T, valid func() T, edits []edit[T]) {
	t.Helper()
	for _, e := range append([]edit[T]{{"valid", func(*T) {}, ""}}, edits...) {
		t.Run(e.name, func(t *testing.T) {
			v := valid()
			e.change(&v)
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse[T, P](data)
			if e.field == "" {
				if err != nil || !reflect.DeepEqual(got, v) {
					t.Fatalf("Parse = %+v, %v; want %+v", got, err, v)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "invalid input: ") || !strings.Contains(err.Error(), e.field) {
				t.Fatalf("Parse error = %v, want invalid input naming %q", err, e.field)
			}
		})
	}
}

func TestParsePatientRegistration(t *testing.T) {
	testEdits(t, validRegistration, []edit[PatientRegistration]{
		{"wrong op", func(r *PatientRegistration) { r.Op = OpDeviceRegister }, "op"},
		{"nonce not 0", func(r *PatientRegistration) { r.Nonce = 1 }, "nonce"},
		{"a recovery key", func(r *PatientRegistration) { r.RecoveryKey = publicKeyOf(testKey("alice-recovery")) }, ""},
		{"a recovery key and a delay", func(r *PatientRegistration) {
			r.RecoveryKey, r.RecoveryDelaySeconds = publicKeyOf(testKey("alice-recovery")), 3600
		}, ""},
		{"a delay without a recovery key", func(r *PatientRegistration) { r.RecoveryDelaySeconds = 3600 }, "recoveryDelaySeconds needs a recoveryKey"},
		{"a negative delay", func(r *PatientRegistration) {
			r.RecoveryKey, r.RecoveryDelaySeconds = publicKeyOf(testKey("alice-recovery")), -1
		}, "recoveryDelaySeconds"},
		{"a delay over 30 days", func(r *PatientRegistration) {
			r.RecoveryKey, r.RecoveryDelaySeconds = publicKeyOf(testKey("alice-recovery")), 30*24*3600+1
		}, "recoveryDelaySeconds"},
		{"the recovery key is the key", func(r *PatientRegistration) { r.RecoveryKey = r.PublicKey }, "recoveryKey must differ"},
		{"a bad recovery key", func(r *PatientRegistration) { r.RecoveryKey = "AAAA" }, "recoveryKey"},
		{"bad patient id", func(r *PatientRegistration) { r.PatientID = "" }, "patientId"},
		{"bad public key", func(r *PatientRegistration) { r.PublicKey = "a2V5" }, "publicKey"},
	})
}

func TestParseConsentGrant(t *testing.T) {
	testEdits(t, validGrant, []edit[ConsentGrant]{
		{"every record, no window", func(g *ConsentGrant) { g.RecordIDs, g.NotBefore, g.ExpiresAt = nil, "", "" }, ""},
		{"expiry only", func(g *ConsentGrant) { g.NotBefore = "" }, ""},
		{"every category and purpose", func(g *ConsentGrant) { g.Categories, g.Purposes = Categories, Purposes }, ""},
		{"org grantee", func(g *ConsentGrant) { g.Grantee = Grantee{Kind: GranteeOrg, ID: "ProvidersMSP"} }, ""},
		{"study grantee for research", func(g *ConsentGrant) {
			g.Grantee, g.Purposes = Grantee{Kind: GranteeStudy, ID: "study-1"}, []string{"research"}
		}, ""},
		{"study grantee for treatment", func(g *ConsentGrant) { g.Grantee = Grantee{Kind: GranteeStudy, ID: "study-1"} }, "purposes must be exactly [research]"},
		{"study grantee for research and more", func(g *ConsentGrant) {
			g.Grantee, g.Purposes = Grantee{Kind: GranteeStudy, ID: "study-1"}, []string{"research", "treatment"}
		}, "purposes must be exactly [research]"},
		{"wrong op", func(g *ConsentGrant) { g.Op = OpConsentRevoke }, "op"},
		{"bad patient id", func(g *ConsentGrant) { g.PatientID = "al ice" }, "patientId"},
		{"bad consent id", func(g *ConsentGrant) { g.ConsentID = "" }, "consentId"},
		{"bad grantee kind", func(g *ConsentGrant) { g.Grantee.Kind = "team" }, "grantee.kind"},
		{"bad grantee id", func(g *ConsentGrant) { g.Grantee.ID = "" }, "grantee.id"},
		{"no category", func(g *ConsentGrant) { g.Categories = []string{} }, "categories"},
		{"unknown category", func(g *ConsentGrant) { g.Categories = []string{"labs", "dna"} }, "categories[1]"},
		{"repeated category", func(g *ConsentGrant) { g.Categories = []string{"labs", "labs"} }, "categories[1]"},
		{"no purpose", func(g *ConsentGrant) { g.Purposes = nil }, "purposes"},
		{"unknown purpose", func(g *ConsentGrant) { g.Purposes = []string{"marketing"} }, "purposes[0]"},
		{"bad record id", func(g *ConsentGrant) { g.RecordIDs = []string{"r1", "r 2"} }, "recordIds[1]"},
		{"repeated record", func(g *ConsentGrant) { g.RecordIDs = []string{"r1", "r1"} }, "recordIds[1]"},
		{"too many records", func(g *ConsentGrant) {
			g.RecordIDs = nil
			for i := 0; i <= MaxRecordIDs; i++ {
				g.RecordIDs = append(g.RecordIDs, fmt.Sprint("r", i))
			}
		}, "recordIds"},
		{"bad notBefore", func(g *ConsentGrant) { g.NotBefore = "2030-01-01" }, "notBefore"},
		{"bad expiresAt", func(g *ConsentGrant) { g.ExpiresAt = "never" }, "expiresAt"},
		{"expiry at notBefore", func(g *ConsentGrant) { g.ExpiresAt = g.NotBefore }, "expiresAt must be after notBefore"},
	})
}

func TestParseConsentRevocation(t *testing.T) {
	testEdits(t, validRevocation, []edit[ConsentRevocation]{
		{"wrong op", func(r *ConsentRevocation) { r.Op = OpConsentGrant }, "op"},
		{"bad patient id", func(r *ConsentRevocation) { r.PatientID = "@" }, "patientId"},
		{"bad consent id", func(r *ConsentRevocation) { r.ConsentID = "c/1" }, "consentId"},
	})
}

func TestParseDeviceRegistration(t *testing.T) {
	testEdits(t, validDevice, []edit[DeviceRegistration]{
		{"wrong op", func(d *DeviceRegistration) { d.Op = OpPatientRegister }, "op"},
		{"bad device id", func(d *DeviceRegistration) { d.DeviceID = "" }, "deviceId"},
		{"bad public key", func(d *DeviceRegistration) { d.PublicKey = publicKeyOf(testKey("x"))[1:] }, "publicKey"},
	})
}

func TestParseDeviceRevocation(t *testing.T) {
	testEdits(t, validDeviceRevocation, []edit[DeviceRevocation]{
		{"wrong op", func(d *DeviceRevocation) { d.Op = OpDeviceRegister }, "op"},
		{"bad device id", func(d *DeviceRevocation) { d.DeviceID = "w 1" }, "deviceId"},
	})
}

func TestParseAccessEvents(t *testing.T) {
	first := func(change func(e *AccessEvent)) func(es *AccessEvents) {
		return func(es *AccessEvents) { change(&(*es)[0]) }
	}
	hash := strings.Repeat("ab", 32)
	testEdits(t, validEvents, []edit[AccessEvents]{
		{"optional fields empty", first(func(e *AccessEvent) { e.Purpose = "" }), ""},
		{"a patient's own access", first(func(e *AccessEvent) { e.ActorRole, e.ActorOrg = RolePatient, "" }), ""},
		{"a service's", first(func(e *AccessEvent) { e.ActorRole, e.Action = RoleService, ActionVerify }), ""},
		{"category resource", first(func(e *AccessEvent) { e.Resource = "category/labs" }), ""},
		{"break glass with its reference", first(func(e *AccessEvent) { e.BreakGlass, e.BreakGlassRef = true, hash }), ""},
		{"several codes", first(func(e *AccessEvent) { e.Decision, e.ReasonCodes = DecisionDeny, []string{"no-consent", "role-purpose"} }), ""},
		{"time with offset", first(func(e *AccessEvent) { e.Time = "2030-01-01T02:00:00.5+02:00" }), ""},
		{"bad event id", first(func(e *AccessEvent) { e.EventID = "" }), "invalid input: events[0].eventId"},
		{"bad actor", first(func(e *AccessEvent) { e.Actor = "a b" }), "actor"},
		{"unknown role", first(func(e *AccessEvent) { e.ActorRole = "admin" }), "actorRole"},
		{"no actor org for staff", first(func(e *AccessEvent) { e.ActorOrg = "" }), "actorOrg"},
		{"an org for a patient", first(func(e *AccessEvent) { e.ActorRole = RolePatient }), "actorOrg must be empty for a patient"},
		{"bad actor org", first(func(e *AccessEvent) { e.ActorOrg = "-org" }), "actorOrg"},
		{"bad patient id", first(func(e *AccessEvent) { e.PatientID = "" }), "patientId"},
		{"free-text action", first(func(e *AccessEvent) { e.Action = "looked at the chart" }), "action"},
		{"no resource", first(func(e *AccessEvent) { e.Resource = "" }), "resource"},
		{"free-text resource", first(func(e *AccessEvent) { e.Resource = "record/HIV test of Bob" }), "resource"},
		{"unknown category resource", first(func(e *AccessEvent) { e.Resource = "category/psychiatry-notes" }), "resource"},
		{"unknown purpose", first(func(e *AccessEvent) { e.Purpose = "marketing" }), "purpose"},
		{"bad decision", first(func(e *AccessEvent) { e.Decision = "ALLOW" }), "decision"},
		{"no reason code", first(func(e *AccessEvent) { e.ReasonCodes = nil }), "reasonCodes"},
		{"free text as a reason code", first(func(e *AccessEvent) { e.ReasonCodes = []string{"patient says she is pregnant"} }), "reasonCodes[0]"},
		{"a repeated reason code", first(func(e *AccessEvent) { e.ReasonCodes = []string{"consent", "consent"} }), "reasonCodes[1]"},
		{"break glass without reference", first(func(e *AccessEvent) { e.BreakGlass = true }), "breakGlassRef is required"},
		{"break glass reference not a hash", first(func(e *AccessEvent) { e.BreakGlass, e.BreakGlassRef = true, "unresponsive on arrival" }), "breakGlassRef"},
		{"reference without break glass", first(func(e *AccessEvent) { e.BreakGlassRef = hash }), "breakGlassRef is only for break-glass"},
		{"bad time", first(func(e *AccessEvent) { e.Time = "2030-01-01T00:00:00" }), "time"},
		{"txId set", first(func(e *AccessEvent) { e.TxID = "tx1" }), "txId"},
		{"recordedBy set", first(func(e *AccessEvent) { e.RecordedBy = "ProvidersMSP" }), "recordedBy"},
		{"second event invalid", func(es *AccessEvents) { (*es)[1].Decision = "" }, "events[1].decision"},
		{"repeated event id", func(es *AccessEvents) { (*es)[1].EventID = "e1" }, "events[1] repeats eventId e1"},
		{"no event", func(es *AccessEvents) { *es = AccessEvents{} }, "events"},
		{"500 events", func(es *AccessEvents) {
			*es = nil
			for i := range MaxEvents {
				*es = append(*es, validEvent(fmt.Sprint("e", i)))
			}
		}, ""},
		{"501 events", func(es *AccessEvents) {
			*es = nil
			for i := range MaxEvents + 1 {
				*es = append(*es, validEvent(fmt.Sprint("e", i)))
			}
		}, "events"},
	})
}

func TestParseKeyChanges(t *testing.T) {
	testEdits(t, validRotation, []edit[KeyRotation]{
		{"wrong op", func(r *KeyRotation) { r.Op = OpRecoveryRequest }, "op"},
		{"bad new key", func(r *KeyRotation) { r.NewPublicKey = "AAAA" }, "newPublicKey"},
	})
	testEdits(t, validRecovery, []edit[RecoveryRequest]{
		{"wrong op", func(r *RecoveryRequest) { r.Op = OpKeyRotate }, "op"},
		{"bad new key", func(r *RecoveryRequest) { r.NewPublicKey = "" }, "newPublicKey"},
	})
	testEdits(t, validCancel, []edit[RecoveryCancel]{
		{"wrong op", func(r *RecoveryCancel) { r.Op = OpKeyRotate }, "op"},
	})
	testEdits(t, validErasure, []edit[PatientErasure]{
		{"wrong op", func(e *PatientErasure) { e.Op = OpConsentRevoke }, "op"},
		{"bad erasure id", func(e *PatientErasure) { e.ErasureID = "" }, "erasureId"},
	})
	testEdits(t, validCounts, []edit[ErasureCounts]{
		{"no key id", func(c *ErasureCounts) { c.KeyID = "" }, ""},
		{"negative", func(c *ErasureCounts) { c.RecordObjects = -1 }, "counts must not be negative"},
		{"bad key id", func(c *ErasureCounts) { c.KeyID = "k 1" }, "keyId"},
	})
}

func TestParseDatasetReleaseRequest(t *testing.T) {
	testEdits(t, validRelease, []edit[DatasetReleaseRequest]{
		{"bad dataset id", func(r *DatasetReleaseRequest) { r.DatasetID = "" }, "datasetId"},
		{"bad hash", func(r *DatasetReleaseRequest) { r.SHA256 = strings.Repeat("AB", 32) }, "sha256"},
		{"bad study id", func(r *DatasetReleaseRequest) { r.StudyID = "s 1" }, "studyId"},
		{"bad researcher", func(r *DatasetReleaseRequest) { r.Researcher = "" }, "researcher"},
		{"empty cohort", func(r *DatasetReleaseRequest) { r.CohortSize = 0 }, "cohortSize"},
		{"k of 1", func(r *DatasetReleaseRequest) { r.K = 1 }, "k must be at least 2"},
		{"no consent", func(r *DatasetReleaseRequest) { r.ConsentIDs = nil }, "consentIds"},
		{"bad consent id", func(r *DatasetReleaseRequest) { r.ConsentIDs = []string{"c1", ""} }, "consentIds[1]"},
		{"repeated consent", func(r *DatasetReleaseRequest) { r.ConsentIDs = []string{"c1", "c1"} }, "consentIds[1]"},
	})
}

// TestParseStrict: exactly one JSON document of the expected shape, of
// bounded size.
func TestParseStrict(t *testing.T) {
	revocation := `{"op":"consent.revoke","nonce":2,"patientId":"alice","consentId":"c1"}`
	for _, tc := range []struct {
		name, doc string
		ok        bool
	}{
		{"valid", revocation, true},
		{"surrounding whitespace", "\n " + revocation + "\n", true},
		{"unknown field", strings.Replace(revocation, `}`, `,"extra":1}`, 1), false},
		{"two documents", revocation + revocation, false},
		{"trailing garbage", revocation + "x", false},
		{"null", "null", false},
		{"array", "[" + revocation + "]", false},
		{"empty", "", false},
		{"truncated", revocation[:20], false},
		{"nonce as string", strings.Replace(revocation, `2`, `"2"`, 1), false},
		{"negative nonce", strings.Replace(revocation, `2`, `-2`, 1), false},
		{"nonce overflow", strings.Replace(revocation, `2`, `18446744073709551616`, 1), false},
		{"oversized", revocation + strings.Repeat(" ", MaxPayloadBytes), false},
		{"a key in another case", strings.Replace(revocation, `"consentId"`, `"ConsentID"`, 1), false},
		{"the op key in capitals", strings.Replace(revocation, `"op"`, `"OP"`, 1), false},
		{"a key given twice, same value", strings.Replace(revocation, `}`, `,"consentId":"c1"}`, 1), false},
		{"a key given twice, another value", strings.Replace(revocation, `}`, `,"consentId":"c2"}`, 1), false},
		{"a case-changed twin of a key", strings.Replace(revocation, `}`, `,"consentid":"c2"}`, 1), false},
		{"invalid UTF-8 in a value", strings.Replace(revocation, `"c1"`, "\"c\xff1\"", 1), false},
		{"an escaped key spelled like a field", strings.Replace(revocation, `"consentId"`, `"consent\u0049d"`, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse[ConsentRevocation]([]byte(tc.doc))
			if tc.ok && (err != nil || got != validRevocation()) {
				t.Fatalf("Parse = %+v, %v", got, err)
			}
			if !tc.ok && (!errors.Is(err, ErrInvalid) || got != ConsentRevocation{}) {
				t.Fatalf("Parse = %+v, %v; want a zero value and invalid input", got, err)
			}
		})
	}
}

// TestParseBatchLimit: batches may exceed the signed-payload limit, up to
// their own.
func TestParseBatchLimit(t *testing.T) {
	events := validEvents()
	for i := range 50 {
		events = append(events, validEvent(fmt.Sprint("pad", i)))
	}
	data, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(data, strings.Repeat(" ", MaxPayloadBytes)...)
	if _, err := Parse[AccessEvents](padded); err != nil {
		t.Fatalf("batch over the payload limit: %v", err)
	}
	if _, err := Parse[AccessEvents](append(data, strings.Repeat(" ", MaxBatchBytes)...)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("batch over the batch limit: %v", err)
	}
}

func TestGranteeValidate(t *testing.T) {
	for _, tc := range []struct {
		g    Grantee
		want string // "" for valid
	}{
		{UserGrantee("StMarysMSP", "dr-alice"), ""},
		{Grantee{Kind: GranteeOrg, ID: "PharmacyMSP"}, ""},
		{Grantee{Kind: GranteeStudy, ID: "study-1"}, ""},
		{Grantee{Kind: GranteeUser, ID: "dr-alice"}, "<organisation MSP id>/<user id>"},
		{UserGrantee("EvilClinicMSP", "dr-alice"), "not an organisation of the exchange"},
		{UserGrantee("StMarysMSP", ""), "user"},
		{UserGrantee("StMarysMSP", "a/b"), "user"},
		{Grantee{Kind: GranteeOrg, ID: "EvilClinicMSP"}, "not an organisation of the exchange"},
		{Grantee{Kind: "team", ID: "x"}, "kind"},
	} {
		err := tc.g.Validate("grantee")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.g, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want invalid naming %q", tc.g, err, tc.want)
		}
	}
	if org, user, ok := UserGrantee("StMarysMSP", "dr-alice").User(); !ok || org != "StMarysMSP" || user != "dr-alice" {
		t.Errorf("User() = %q %q %v", org, user, ok)
	}
}
