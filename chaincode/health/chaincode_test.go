package health

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
)

// creator is the serialized identity of a member of an organisation, as the
// peer hands it to the chaincode.
func creator(t *testing.T, mspID string) []byte {
	t.Helper()
	cert, _ := selfSigned(t, "user@"+mspID)
	data, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: cert})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInvoke drives every function through the contract API as the peer
// would: string arguments in, JSON out, with the API's metadata checking
// argument and return types (including empty optional fields).
func TestInvoke(t *testing.T) {
	cc, err := NewChaincode()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture()
	creators := map[string][]byte{}
	for _, id := range []string{"ProvidersMSP", "StMarysMSP", "ResearchMSP", "OtherMSP"} {
		creators[id] = creator(t, id)
	}

	alice, dev := newPatient("alice"), newPatient("watch-1")
	regPayload, regSig := sign(t, alice.key, alice.registration())
	grant := func(g ledgerapi.ConsentGrant) [2]string {
		g.Header = alice.next(ledgerapi.OpConsentGrant)
		payload, sig := sign(t, alice.key, g)
		return [2]string{payload, sig}
	}
	care := grant(grantTo("c1", "user", "ProvidersMSP/dr-who", labs, treatment))
	study := grant(grantTo("c2", "org", "ResearchMSP", labs, []string{"research"}))
	filing := grant(grantTo("c0", "org", "ProvidersMSP", labs, treatment))
	devReg, devRegSig := sign(t, alice.key, ledgerapi.DeviceRegistration{Header: alice.next(ledgerapi.OpDeviceRegister), DeviceID: "watch-1", PublicKey: dev.publicKey()})
	devRev, devRevSig := sign(t, alice.key, ledgerapi.DeviceRevocation{Header: alice.next(ledgerapi.OpDeviceRevoke), DeviceID: "watch-1"})
	revoke, revokeSig := sign(t, alice.key, ledgerapi.ConsentRevocation{Header: alice.next(ledgerapi.OpConsentRevoke), ConsentID: "c1"})
	newKey := newPatient("alice-2")
	rotation := ledgerapi.KeyRotation{Header: alice.next(ledgerapi.OpKeyRotate), NewPublicKey: newKey.publicKey()}
	rotate, rotateSig := sign(t, alice.key, rotation)
	_, rotateNewSig := sign(t, newKey.key, rotation)
	erase, eraseSig := sign(t, newKey.key, ledgerapi.PatientErasure{Header: alice.next(ledgerapi.OpPatientErase), ErasureID: "er-1"})
	counts := `{"recordObjects":2,"wearableObjects":0}`
	late := grantTo("c3", "user", "ProvidersMSP/dr-who", labs, treatment)
	late.Header = alice.next(ledgerapi.OpConsentGrant)
	latePayload, lateSig := sign(t, newKey.key, late)
	afterErasure := [2]string{latePayload, lateSig}
	sha1, sha2 := hashOf("v1"), hashOf("v2")
	events := `[{"eventId":"e1","actor":"dr-who","actorRole":"researcher","actorOrg":"ResearchMSP","patientId":"alice","action":"read",` +
		`"resource":"record/r1","decision":"allow","reasonCodes":["consent"],"time":"2030-01-01T00:00:00Z"}]`
	release := `{"datasetId":"ds1","sha256":"` + sha1 + `","studyId":"s1","researcher":"res-1","cohortSize":1,"k":2,"consentIds":["c2"]}`

	const p, r = "ProvidersMSP", "ResearchMSP"
	for _, step := range []struct {
		msp  string
		fn   string
		args []string
		into any    // the function's return type: the payload must decode into it exactly
		want string // in the payload, or in the error message when into is nil
	}{
		{p, "patients:Register", []string{regPayload, regSig}, &ledgerapi.Patient{}, `"nonce":0`},
		{r, "patients:Get", []string{"alice"}, &ledgerapi.Patient{}, `"patientId":"alice"`},
		{p, "consents:Grant", care[:], &ledgerapi.Consent{}, `"recordIds":[]`},
		{p, "consents:Grant", study[:], &ledgerapi.Consent{}, `"status":"active"`},
		{"StMarysMSP", "consents:Grant", filing[:], &ledgerapi.Consent{}, `"grantee":{"kind":"org","id":"ProvidersMSP"}`},
		{r, "consents:Get", []string{"c1"}, &ledgerapi.Consent{}, `"grantee":{"kind":"user","id":"ProvidersMSP/dr-who"}`},
		{r, "consents:ListByPatient", []string{"alice", "10", ""}, &ledgerapi.ConsentPage{}, `"count":3`},
		{r, "consents:ListByPatient", []string{"alice", "1", ""}, &ledgerapi.ConsentPage{}, `"bookmark":"`},
		{p, "consents:ListByGrantee", []string{"org", "ResearchMSP", "5", ""}, &ledgerapi.ConsentPage{}, `"consentId":"c2"`},
		{p, "consents:ListByGrantee", []string{"user", "StMarysMSP/nobody", "5", ""}, &ledgerapi.ConsentPage{}, `{"items":[],"count":0}`},
		{p, "consents:Check", []string{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "", ""}, &ledgerapi.Decision{}, `"allowed":true`},
		{p, "consents:Check", []string{"alice", "nobody", "", "labs", "treatment", "", ""}, &ledgerapi.Decision{}, `"allowed":false`},
		{p, "devices:Register", []string{devReg, devRegSig}, &ledgerapi.Device{}, `"status":"active"`},
		{r, "devices:Get", []string{"watch-1"}, &ledgerapi.Device{}, `"deviceId":"watch-1"`},
		{p, "anchors:Anchor", []string{"b1", "alice", "watch-1", sha1, "3", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, &ledgerapi.Anchor{}, `"count":3`},
		{r, "anchors:Get", []string{"b1"}, &ledgerapi.Anchor{}, `"root":"` + sha1},
		{p, "anchors:AnchorRoot", []string{"period-1", sha2, "2", "7", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, &ledgerapi.RootAnchor{}, `"size":2,"readings":7`},
		{p, "anchors:AnchorRoot", []string{"period-1", sha2, "2", "7", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, &ledgerapi.RootAnchor{}, `"anchorId":"period-1"`},
		{r, "anchors:GetRoot", []string{"period-1"}, &ledgerapi.RootAnchor{}, `"root":"` + sha2},
		{p, "devices:Revoke", []string{devRev, devRevSig}, &ledgerapi.Device{}, `"status":"revoked"`},
		{p, "notary:Notarize", []string{"r1", "alice", sha1, "labs", "1", ""}, &ledgerapi.Notarization{}, `"org":"ProvidersMSP","author":"user@ProvidersMSP"`},
		{p, "notary:Notarize", []string{"r1", "alice", sha2, "labs", "2", sha1}, &ledgerapi.Notarization{}, `"previousSha256":"` + sha1},
		{r, "notary:Verify", []string{"r1", sha1}, &ledgerapi.VerifyResult{}, `"match":true`},
		{r, "notary:History", []string{"r1"}, &[]ledgerapi.Notarization{}, `"version":2`},
		{r, "notary:ListByPatient", []string{"alice", "10", ""}, &ledgerapi.NotarizationPage{}, `"version":2`},
		{p, "notary:ListByPatient", []string{"bob", "10", ""}, &ledgerapi.NotarizationPage{}, `{"items":[],"count":0}`},
		{r, "notary:FindByHash", []string{sha2}, &[]ledgerapi.Notarization{}, `"recordId":"r1"`},
		{p, "notary:FindByHash", []string{hashOf("never")}, &[]ledgerapi.Notarization{}, `[]`},
		{r, "accesslog:Append", []string{events}, &ledgerapi.AppendResult{}, `{"appended":1,"duplicates":0}`},
		{p, "accesslog:ListByPatient", []string{"alice", "10", ""}, &ledgerapi.AccessEventPage{}, `"breakGlass":false`},
		{p, "accesslog:ListByPatient", []string{"bob", "10", ""}, &ledgerapi.AccessEventPage{}, `{"items":[],"count":0}`},
		{r, "datasets:Record", []string{release}, &ledgerapi.DatasetRelease{}, `"consentSetSha256":"`},
		{p, "datasets:Get", []string{"ds1"}, &ledgerapi.DatasetRelease{}, `"k":2`},
		{p, "consents:Revoke", []string{revoke, revokeSig}, &ledgerapi.Consent{}, `"revokeTxId":"`},
		{r, "consents:History", []string{"c1"}, &[]ledgerapi.ConsentVersion{}, `"isDelete":false`},
		{"StMarysMSP", "patients:RotateKey", []string{rotate, rotateSig, rotateNewSig}, &ledgerapi.Patient{}, `"keyVersion":2`},
		{r, "patients:History", []string{"alice"}, &[]ledgerapi.PatientVersion{}, `"keyVersion":1`},
		// Erasure last: afterwards alice's consents allow nothing.
		{p, "erasures:Request", []string{erase, eraseSig}, &ledgerapi.Erasure{}, `"status":"requested","requestedBy":"ProvidersMSP"`},
		{p, "erasures:Request", []string{erase, eraseSig}, &ledgerapi.Erasure{}, `"erasureId":"er-1"`},
		{p, "erasures:Complete", []string{"alice", "er-1", counts}, &ledgerapi.Erasure{}, `"counts":{"recordObjects":2,"wearableObjects":0}`},
		{r, "erasures:Get", []string{"alice"}, &ledgerapi.Erasure{}, `"status":"completed"`},
		{r, "consents:Check", []string{"alice", "dr-who", "ProvidersMSP", "labs", "treatment", "", ""}, &ledgerapi.Decision{}, `{"allowed":false,"reason":"patient alice has been erased"}`},
		{r, "org.hyperledger.fabric:GetMetadata", nil, nil, ""},
		// Refusals travel back as error messages.
		{"OtherMSP", "patients:Get", []string{"alice"}, nil, "forbidden"},
		{"OtherMSP", "consents:Grant", care[:], nil, "forbidden"},
		{p, "datasets:Record", []string{release}, nil, "forbidden"},
		{r, "erasures:Complete", []string{"alice", "er-1", counts}, nil, "forbidden"},
		{p, "erasures:Complete", []string{"alice", "er-1", `{"recordObjects":-1,"wearableObjects":0}`}, nil, "counts must not be negative"},
		{p, "erasures:Complete", []string{"alice", "er-1", `{"recordObjects":2,"wearableObjects":0,"RecordObjects":9}`}, nil, "field names are exact"},
		{p, "erasures:Complete", []string{"alice", "er-1", `{"recordObjects":2,"recordObjects":9,"wearableObjects":0}`}, nil, "given twice"},
		{p, "notary:Notarize", []string{"r2", "alice", sha1, "labs", "dr-who", "1", ""}, nil, "dr-who"},
		{r, "anchors:AnchorRoot", []string{"period-2", sha2, "2", "7", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, nil, "forbidden"},
		{p, "anchors:AnchorRoot", []string{"period-1", sha1, "2", "7", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, nil, "conflicts with the ledger"},
		{p, "anchors:AnchorRoot", []string{"period-2", sha2, "two", "7", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z"}, nil, "two"},
		{p, "anchors:GetRoot", []string{"period-9"}, nil, "not found"},
		{p, "consents:Grant", afterErasure[:], nil, "patient alice has been erased"},
		{p, "consents:ListByPatient", []string{"alice", "ten", ""}, nil, "ten"},
		{p, "notary:Verify", []string{"r9", sha1}, nil, "record r9 is not notarized"},
		{p, "consents:Erase", []string{"c1"}, nil, "Erase"},
	} {
		t.Run(step.fn, func(t *testing.T) {
			f.stub.creator = creators[step.msp]
			f.nextTx(append([]string{step.fn}, step.args...)...)
			resp := cc.Invoke(f.stub)
			payload := string(resp.Payload)
			if step.into == nil {
				if step.want == "" {
					if resp.Status != shim.OK || !strings.Contains(payload, `"consents"`) {
						t.Fatalf("metadata: %d %s %.200s", resp.Status, resp.Message, payload)
					}
				} else if resp.Status == shim.OK || !strings.Contains(resp.Message, step.want) {
					t.Fatalf("status %d message %q, want an error mentioning %q", resp.Status, resp.Message, step.want)
				}
				return
			}
			if resp.Status != shim.OK {
				t.Fatalf("status %d: %s", resp.Status, resp.Message)
			}
			f.stub.commit()
			dec := json.NewDecoder(bytes.NewReader(resp.Payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(step.into); err != nil {
				t.Fatalf("payload %s does not decode into %T: %v", payload, step.into, err)
			}
			if reflect.ValueOf(step.into).Elem().IsZero() || !strings.Contains(payload, step.want) || strings.Contains(payload, "null") {
				t.Fatalf("payload %s, want it to contain %s and no null", payload, step.want)
			}
		})
	}
}
