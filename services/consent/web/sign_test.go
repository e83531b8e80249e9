package web

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"healthexchange/chaincode/ledgerapi"
)

// vector is one payload the page signs: the inputs sign.js takes, and what
// the Go signer (ledgerapi.Sign, as the patient CLI signs) makes of them.
type vector struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Signer    string          `json:"-"` // the seed of the key that signs`
	PKCS8     string          `json:"pkcs8"`
	Input     json.RawMessage `json:"input"`
	Payload   string          `json:"payload"`
	Signature string          `json:"signature"`
}

func key(t *testing.T, seed string) (ed25519.PrivateKey, string) {
	t.Helper()
	s := sha256.Sum256([]byte(seed))
	priv := ed25519.NewKeyFromSeed(s[:])
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, base64.StdEncoding.EncodeToString(der)
}

func vectors(t *testing.T) []vector {
	t.Helper()
	var out []vector
	add := func(name, kind, seed string, input any, payload any) {
		priv, pkcs8 := key(t, seed)
		data, sig, err := ledgerapi.Sign(priv, payload)
		if err != nil {
			t.Fatal(err)
		}
		in, err := json.Marshal(input)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vector{Name: name, Kind: kind, Signer: seed, PKCS8: pkcs8, Input: in, Payload: data, Signature: sig})
	}
	alice, _ := key(t, "alice")
	alicePub := base64.StdEncoding.EncodeToString(alice.Public().(ed25519.PublicKey))
	add("registration", "registration", "alice", map[string]any{"patientId": "pat-alice", "publicKey": alicePub},
		ledgerapi.PatientRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpPatientRegister, PatientID: "pat-alice"}, OwnKeys: ledgerapi.OwnKeys{PublicKey: alicePub}})
	grantee := ledgerapi.Grantee{Kind: ledgerapi.GranteeUser, ID: "ProvidersMSP/dr-house"}
	add("a grant to one person", "grant", "alice", map[string]any{"patientId": "pat-alice", "nonce": 7, "consentId": "c-0011223344556677",
		"grantee": grantee, "categories": []string{"labs", "vitals"}, "purposes": []string{"treatment"}, "expiresAt": "2027-01-03T18:16:51Z"},
		ledgerapi.ConsentGrant{Header: ledgerapi.Header{Op: ledgerapi.OpConsentGrant, Nonce: 7, PatientID: "pat-alice"}, ConsentID: "c-0011223344556677",
			Grantee: grantee, Categories: []string{"labs", "vitals"}, Purposes: []string{"treatment"}, RecordIDs: []string{}, ExpiresAt: "2027-01-03T18:16:51Z"})
	org := ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: "PharmacyMSP"}
	add("a grant to an organisation, with records and a start", "grant", "bob", map[string]any{"patientId": "pat-bob", "nonce": 9007199254740991,
		"consentId": "c-1", "grantee": org, "categories": []string{"prescriptions"}, "purposes": []string{"dispensing"},
		"recordIds": []string{"r-1", "r-2"}, "notBefore": "2026-12-04T00:00:00Z", "expiresAt": "2026-12-05T00:00:00Z"},
		ledgerapi.ConsentGrant{Header: ledgerapi.Header{Op: ledgerapi.OpConsentGrant, Nonce: 9007199254740991, PatientID: "pat-bob"}, ConsentID: "c-1",
			Grantee: org, Categories: []string{"prescriptions"}, Purposes: []string{"dispensing"}, RecordIDs: []string{"r-1", "r-2"},
			NotBefore: "2026-12-04T00:00:00Z", ExpiresAt: "2026-12-05T00:00:00Z"})
	add("a revocation", "revocation", "alice", map[string]any{"patientId": "pat-alice", "nonce": 8, "consentId": "c-0011223344556677"},
		ledgerapi.ConsentRevocation{Header: ledgerapi.Header{Op: ledgerapi.OpConsentRevoke, Nonce: 8, PatientID: "pat-alice"}, ConsentID: "c-0011223344556677"})
	add("a device paired", "pairing", "alice", map[string]any{"patientId": "pat-alice", "nonce": 9, "deviceId": "watch-1", "publicKey": alicePub},
		ledgerapi.DeviceRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpDeviceRegister, Nonce: 9, PatientID: "pat-alice"}, DeviceID: "watch-1", PublicKey: alicePub})
	add("a device revoked", "unpairing", "alice", map[string]any{"patientId": "pat-alice", "nonce": 10, "deviceId": "watch-1"},
		ledgerapi.DeviceRevocation{Header: ledgerapi.Header{Op: ledgerapi.OpDeviceRevoke, Nonce: 10, PatientID: "pat-alice"}, DeviceID: "watch-1"})
	rescue, _ := key(t, "alice-recovery")
	rescuePub := base64.StdEncoding.EncodeToString(rescue.Public().(ed25519.PublicKey))
	add("registration with a recovery key", "registration", "alice", map[string]any{"patientId": "pat-alice", "publicKey": alicePub,
		"recoveryKey": rescuePub, "recoveryDelaySeconds": 259200},
		ledgerapi.PatientRegistration{Header: ledgerapi.Header{Op: ledgerapi.OpPatientRegister, PatientID: "pat-alice"},
			OwnKeys: ledgerapi.OwnKeys{PublicKey: alicePub, RecoveryKey: rescuePub, RecoveryDelaySeconds: 259200}})
	add("a recovery asked with the recovery key", "recovery", "alice-recovery", map[string]any{"patientId": "pat-alice", "nonce": 1, "newPublicKey": alicePub},
		ledgerapi.RecoveryRequest{Header: ledgerapi.Header{Op: ledgerapi.OpRecoveryRequest, Nonce: 1, PatientID: "pat-alice"}, NewPublicKey: alicePub})
	add("a recovery stopped", "cancel-recovery", "alice", map[string]any{"patientId": "pat-alice", "nonce": 11},
		ledgerapi.RecoveryCancel{Header: ledgerapi.Header{Op: ledgerapi.OpRecoveryCancel, Nonce: 11, PatientID: "pat-alice"}})
	return out
}

// parsers are the chaincode's parsers of each kind of payload.
var parsers = map[string]func([]byte) error{
	"registration":    parse[ledgerapi.PatientRegistration],
	"grant":           parse[ledgerapi.ConsentGrant],
	"revocation":      parse[ledgerapi.ConsentRevocation],
	"pairing":         parse[ledgerapi.DeviceRegistration],
	"unpairing":       parse[ledgerapi.DeviceRevocation],
	"recovery":        parse[ledgerapi.RecoveryRequest],
	"cancel-recovery": parse[ledgerapi.RecoveryCancel],
}

func parse[T any, P ledgerapi.Input[T]](raw []byte) error {
	_, err := ledgerapi.Parse[T, P](raw)
	return err
}

// The page's signing code (sign.js) makes, from the same inputs and the
// same key, exactly the bytes and the signature the Go signer makes, and
// the chaincode's parser and verifier accept them. It runs sign.js in
// Node's WebCrypto with each key imported as non-extractable, as in the
// page.
func TestSignJSMatchesTheChaincode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the page's signing code (.ci/run installs it)")
	}
	vs := vectors(t)
	dir := t.TempDir()
	in, err := json.Marshal(vs)
	if err != nil {
		t.Fatal(err)
	}
	signJS, err := filepath.Abs(filepath.Join("static", "sign.js"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "vectors.mjs")
	os.WriteFile(filepath.Join(dir, "vectors.json"), in, 0o600)
	os.WriteFile(script, []byte(`
import * as sign from "file://`+signJS+`";
import { readFileSync } from "node:fs";
const subtle = globalThis.crypto.subtle;
const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const v of vectors) {
  const der = Uint8Array.from(atob(v.pkcs8), (c) => c.charCodeAt(0));
  const key = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  if (key.extractable) throw new Error("the key is extractable");
  const make = { registration: sign.registration, grant: sign.consentGrant, revocation: sign.consentRevocation,
    pairing: sign.deviceRegistration, unpairing: sign.deviceRevocation, recovery: sign.recoveryRequest,
    "cancel-recovery": sign.recoveryCancel }[v.kind];
  const payload = make(v.input);
  out.push({ name: v.name, payload, signature: await sign.sign(subtle, key, payload) });
}
console.log(JSON.stringify(out));
`), 0o600)
	stdout := runNode(t, node, script, filepath.Join(dir, "vectors.json"))
	var got []struct{ Name, Payload, Signature string }
	if err := json.Unmarshal(stdout, &got); err != nil || len(got) != len(vs) {
		t.Fatalf("node's output %s: %v", stdout, err)
	}
	for i, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			g := got[i]
			if g.Payload != v.Payload {
				t.Fatalf("payload\n page: %s\n Go:   %s", g.Payload, v.Payload)
			}
			if g.Signature != v.Signature {
				t.Fatalf("signature\n page: %s\n Go:   %s", g.Signature, v.Signature)
			}
			priv, _ := key(t, v.Signer)
			pub := base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
			if err := ledgerapi.VerifySignature(pub, []byte(g.Payload), g.Signature); err != nil {
				t.Fatal(err)
			}
			parse, ok := parsers[v.Kind]
			if !ok {
				t.Fatalf("no parser for %s", v.Kind)
			}
			perr := parse([]byte(g.Payload))
			if perr != nil {
				t.Fatalf("the chaincode's parser refuses the page's payload: %v", perr)
			}
		})
	}
}

// runNode runs a Node script and returns its standard output, failing the
// test with its standard error.
func runNode(t *testing.T, node, script string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(node, append([]string{script}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node: %v: %s", err, stderr)
	}
	return out
}
