package ledgerapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fuzzParse checks Parse's invariants on arbitrary input: it never panics;
// it refuses with ErrInvalid and a zero value; what it accepts is valid,
// survives a round trip through JSON unchanged, and has one meaning: no key
// given twice, and every key the document holds says in the re-encoding what
// it says in the document (a case-changed key, which encoding/json would
// fold into a field, is not in the re-encoding and fails this).
func fuzzParse[T any, P Input[T]](f *testing.F, seeds ...T) {
	for _, s := range seeds {
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, junk := range []string{"", "null", "{}", "[]", `{"op":1}`, `[{}]`, `{"nonce":-1}`, "\xff",
		`{"op":"a","OP":"b"}`, `{"nonce":1,"nonce":2}`} {
		f.Add([]byte(junk))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse[T, P](data)
		if err != nil {
			var zero T
			if !errors.Is(err, ErrInvalid) || !reflect.DeepEqual(v, zero) {
				t.Fatalf("refused with %v and %+v, want ErrInvalid and a zero value", err, v)
			}
			return
		}
		if err := P(&v).Validate(); err != nil {
			t.Fatalf("accepted an invalid document: %v", err)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse[T, P](again)
		if err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, v)
		}
		if err := oneMeaning(data, again); err != nil {
			t.Fatalf("accepted %q, which means something else than its re-encoding %q: %v", data, again, err)
		}
	})
}

// oneMeaning checks, without Parse's code, that document holds no key
// twice and that each of its values is the re-encoding's at the same key
// (the re-encoding may hold more keys: fields the document left out).
func oneMeaning(document, reencoded []byte) error {
	if err := noDuplicateKeys(json.NewDecoder(bytes.NewReader(document))); err != nil {
		return err
	}
	var a, b any
	for _, x := range []struct {
		data []byte
		v    *any
	}{{document, &a}, {reencoded, &b}} {
		dec := json.NewDecoder(bytes.NewReader(x.data))
		dec.UseNumber()
		if err := dec.Decode(x.v); err != nil {
			return err
		}
	}
	return covered(a, b, "")
}

func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			if seen[k.(string)] {
				return fmt.Errorf("key %q twice", k)
			}
			seen[k.(string)] = true
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// covered reports where a value of the document differs from the
// re-encoding's. A null or empty list in the document may stand for what the
// re-encoding leaves out or writes as empty.
func covered(doc, re any, path string) error {
	switch d := doc.(type) {
	case map[string]any:
		r, ok := re.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: an object became %T", path, re)
		}
		for k, v := range d {
			rv, ok := r[k]
			if !ok {
				if isEmpty(v) {
					continue
				}
				return fmt.Errorf("%s.%s: not in the re-encoding", path, k)
			}
			if err := covered(v, rv, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		r, _ := re.([]any)
		if len(d) != len(r) {
			return fmt.Errorf("%s: %d items became %d", path, len(d), len(r))
		}
		for i := range d {
			if err := covered(d[i], r[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		r, ok := re.(json.Number)
		if !ok {
			return fmt.Errorf("%s: a number became %T", path, re)
		}
		x, errX := d.Int64()
		y, errY := r.Int64()
		if errX != nil || errY != nil || x != y {
			return fmt.Errorf("%s: %s became %s", path, d, r)
		}
		return nil
	case nil:
		if !isEmpty(re) {
			return fmt.Errorf("%s: null became %v", path, re)
		}
		return nil
	default:
		if doc != re {
			return fmt.Errorf("%s: %v became %v", path, doc, re)
		}
		return nil
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		return x == "0"
	case map[string]any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	}
	return false
}

func FuzzParsePatientRegistration(f *testing.F) {
	withRecovery := validRegistration()
	withRecovery.RecoveryKey, withRecovery.RecoveryDelaySeconds = publicKeyOf(testKey("alice-recovery")), 60
	fuzzParse(f, validRegistration(), withRecovery)
}

func FuzzParseConsentGrant(f *testing.F) {
	noLimits := validGrant()
	noLimits.RecordIDs, noLimits.NotBefore, noLimits.ExpiresAt = []string{}, "", ""
	delegated := validGrant()
	delegated.DelegationID = "d-1"
	fuzzParse(f, validGrant(), noLimits, delegated)
}

func FuzzParseConsentRevocation(f *testing.F) {
	delegated := validRevocation()
	delegated.DelegationID = "d-1"
	fuzzParse(f, validRevocation(), delegated)
}

// FuzzParseDelegationGrant: the delegation payload the patient signs.
func FuzzParseDelegationGrant(f *testing.F) {
	d := DelegationGrant{Header: Header{Op: OpDelegationGrant, Nonce: 4, PatientID: "child"}, DelegationID: "d-1", DelegateID: "mum",
		DelegateKey: publicKeyOf(testKey("mum")), Relationship: "parent", Powers: []string{PowerGrant, PowerRevoke}, ExpiresAt: "2044-05-01T00:00:00Z"}
	grantOnly := d
	grantOnly.Powers, grantOnly.Relationship = []string{PowerGrant}, "carer"
	fuzzParse(f, d, grantOnly)
}

// FuzzParseMinorRegistration: the registration of a child the guardian signs.
func FuzzParseMinorRegistration(f *testing.F) {
	m := MinorRegistration{Header: Header{Op: OpMinorRegister, PatientID: "baby"}, MajorityAt: "2044-05-01T00:00:00Z", DelegationID: "d-1",
		GuardianID: "dad", GuardianKey: publicKeyOf(testKey("dad")), Relationship: "guardian", Powers: []string{PowerGrant, PowerRevoke, PowerRead, PowerApprove}}
	readOnly := m
	readOnly.Powers, readOnly.Relationship = []string{PowerRead}, "parent"
	fuzzParse(f, m, readOnly)
}

// FuzzParseKeyClaim: the key a patient registered as a minor claims.
func FuzzParseKeyClaim(f *testing.F) {
	c := KeyClaim{Header: Header{Op: OpKeyClaim, PatientID: "baby"}, OwnKeys: OwnKeys{PublicKey: publicKeyOf(testKey("baby"))}}
	withRecovery := c
	withRecovery.RecoveryKey, withRecovery.RecoveryDelaySeconds = publicKeyOf(testKey("baby-recovery")), 3600
	fuzzParse(f, c, withRecovery)
}

func FuzzParseDelegationRevocation(f *testing.F) {
	fuzzParse(f, DelegationRevocation{Header: Header{Op: OpDelegationEnd, Nonce: 5, PatientID: "child"}, DelegationID: "d-1"})
}

func FuzzParseDeviceRegistration(f *testing.F) {
	fuzzParse(f, validDevice())
}

func FuzzParseDeviceRevocation(f *testing.F) {
	fuzzParse(f, validDeviceRevocation())
}

func FuzzParseAccessEvents(f *testing.F) {
	bare := validEvent("e3")
	bare.ActorRole, bare.ActorOrg, bare.Purpose, bare.BreakGlass, bare.BreakGlassRef = RolePatient, "", "", true, strings.Repeat("0", 64)
	fuzzParse(f, validEvents(), AccessEvents{bare})
}

func FuzzParseKeyRotation(f *testing.F) { fuzzParse(f, validRotation()) }

func FuzzParseRecoveryRequest(f *testing.F) { fuzzParse(f, validRecovery()) }

func FuzzParseRecoveryCancel(f *testing.F) { fuzzParse(f, validCancel()) }

func FuzzParsePatientErasure(f *testing.F) { fuzzParse(f, validErasure()) }

func FuzzParseErasureCounts(f *testing.F) { fuzzParse(f, validCounts()) }

func FuzzParseDatasetReleaseRequest(f *testing.F) {
	fuzzParse(f, validRelease())
}

// FuzzVerifySignature: verification never panics, and accepts only the
// signed bytes under the signer's key.
func FuzzVerifySignature(f *testing.F) {
	key := testKey("alice")
	payload, sig, err := Sign(key, validRevocation())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(publicKeyOf(key), []byte(payload), sig)
	f.Add("AAAA", []byte("{}"), "AAAA")
	f.Fuzz(func(t *testing.T, publicKey string, data []byte, signature string) {
		err := VerifySignature(publicKey, data, signature)
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Fatalf("error %v does not wrap ErrSignature", err)
		}
		if err == nil && publicKey == publicKeyOf(key) && string(data) != payload {
			t.Fatalf("accepted bytes alice did not sign: %q", data)
		}
	})
}

// TestOneMeaningCatches: the fuzz targets' oracle does catch the documents
// encoding/json reads with another meaning than they show.
func TestOneMeaningCatches(t *testing.T) {
	re, err := json.Marshal(validRevocation())
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"case-changed key": `{"op":"consent.revoke","nonce":2,"patientId":"alice","ConsentId":"c1"}`,
		"duplicate key":    `{"op":"consent.revoke","nonce":2,"patientId":"alice","consentId":"c0","consentId":"c1"}`,
		"other value":      `{"op":"consent.revoke","nonce":3,"patientId":"alice","consentId":"c1"}`,
	} {
		if err := oneMeaning([]byte(doc), re); err == nil {
			t.Errorf("%s: oneMeaning(%s) = nil", name, doc)
		}
	}
	if err := oneMeaning(re, re); err != nil {
		t.Errorf("oneMeaning of the re-encoding itself = %v", err)
	}
}

// FuzzParseCardKey: a health card issuer's key, as cardissuers:Register
// takes it (a valid P-256 point whose kid is its thumbprint).
func FuzzParseCardKey(f *testing.F) {
	k := CardKey{X: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", Y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
	k.Kid = k.Thumbprint()
	fuzzParse(f, k)
}
