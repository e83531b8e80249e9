//go:build integration

package records

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/domain/shc"
	"healthexchange/services/platform/auth"
)

// The pharmacy fills a prescription as often as it allows and no more, on
// the real network: the chaincode counts the fills.
func TestPrescriptionDispensingIntegration(t *testing.T) {
	h := startRecords(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	drTok := itest.Token(t, itest.Unique("dr-house"), auth.RoleClinician, "ProvidersMSP")
	pharmacist := itest.Unique("ph")
	phTok := itest.Token(t, pharmacist, auth.RolePharmacist, "PharmacyMSP")
	colleagueTok := itest.Token(t, itest.Unique("ph"), auth.RolePharmacist, "PharmacyMSP")
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "prescriptions", "--purposes", "treatment")

	file := func(record string, rx []byte) *recordsv1.RecordVersion {
		t.Helper()
		put, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, RecordId: record, Resource: rx}, as(drTok))
		if err != nil {
			t.Fatal(err)
		}
		return put.GetRecord()
	}
	rx := medicationRequest(p.ID, "active", 1, "2099-12-31") // two fills
	rec := file("", rx)
	id := rec.GetRecordId()
	verify := func(tok string, resource []byte) (*recordsv1.VerifyPrescriptionResponse, error) {
		return h.grpc.VerifyPrescription(ctx, &recordsv1.VerifyPrescriptionRequest{RecordId: id, Resource: resource}, as(tok))
	}
	dispense := func(tok, record string, resource []byte) (*recordsv1.DispensePrescriptionResponse, error) {
		return h.grpc.DispensePrescription(ctx, &recordsv1.DispensePrescriptionRequest{RecordId: record, Sha256: fhir.Digest(resource), Quantity: 60}, as(tok))
	}

	t.Run("without the patient's consent the pharmacy neither checks nor fills", func(t *testing.T) {
		_, err := verify(phTok, rx)
		wantCode(t, err, codes.PermissionDenied)
		_, err = dispense(phTok, id, rx)
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("a consent for treatment is not one for dispensing", func(t *testing.T) {
		c := h.consent.Grant(t, p, "--to", "org:PharmacyMSP", "--categories", "prescriptions", "--purposes", "treatment")
		_, err := dispense(phTok, id, rx)
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "dispensing") {
			t.Fatalf("reasons %q", info.GetMetadata()["reasons"])
		}
		if _, err := h.consent.CLI(t, p.Token, p.Key, "revoke", c); err != nil {
			t.Fatal(err)
		}
	})
	consent := h.consent.Grant(t, p, "--to", "org:PharmacyMSP", "--categories", "prescriptions", "--purposes", "dispensing")

	t.Run("verify: notarized, latest, from a hospital, active, no fill yet", func(t *testing.T) {
		v, err := verify(phTok, rx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.GetFillable() || !v.GetNotarized() || v.GetVersion() != 1 || v.GetPrescriberOrg() != "ProvidersMSP" || !v.GetPrescriberRegistered() ||
			v.GetFills() != 2 || v.GetDispensed() != 0 || v.GetStatus() != "active" || v.GetPatientId() != p.ID {
			t.Fatalf("verify = %v", v)
		}
	})
	t.Run("verify: a changed copy is not the prescription", func(t *testing.T) {
		forged := bytes.Replace(rx, []byte(`"numberOfRepeatsAllowed":1`), []byte(`"numberOfRepeatsAllowed":9`), 1)
		v, err := verify(phTok, forged)
		if err != nil || v.GetFillable() || v.GetNotarized() {
			t.Fatalf("verify of a forged copy = %v, %v", v, err)
		}
		_, err = dispense(phTok, id, forged)
		wantCode(t, err, codes.FailedPrecondition)
	})
	t.Run("the first fill and the repeat, by two pharmacists", func(t *testing.T) {
		d, err := dispense(phTok, id, rx)
		if err != nil {
			t.Fatal(err)
		}
		if d.GetFill() != 1 || d.GetFills() != 2 || d.GetOrg() != "PharmacyMSP" || d.GetPharmacist() != pharmacist || d.GetTxId() == "" {
			t.Fatalf("first fill = %v", d)
		}
		if d, err = dispense(colleagueTok, id, rx); err != nil || d.GetFill() != 2 {
			t.Fatalf("repeat = %v, %v", d, err)
		}
	})
	t.Run("a third fill is refused by the ledger", func(t *testing.T) {
		_, err := dispense(phTok, id, rx)
		wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(status.Convert(err).Message(), "allows 2 fill(s) and 2 are dispensed") {
			t.Fatalf("err = %v", err)
		}
		v, err := verify(phTok, rx)
		if err != nil || v.GetFillable() || v.GetDispensed() != 2 {
			t.Fatalf("verify after the last fill = %v, %v", v, err)
		}
	})
	t.Run("a superseded or cancelled prescription cannot be filled", func(t *testing.T) {
		rx2 := medicationRequest(p.ID, "active", 3, "2099-12-31")
		id2 := file("", rx2).GetRecordId()
		cancelled := medicationRequest(p.ID, "cancelled", 3, "2099-12-31")
		if v := file(id2, cancelled); v.GetVersion() != 2 {
			t.Fatalf("cancellation = %v", v)
		}
		_, err := dispense(phTok, id2, rx2)
		wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(status.Convert(err).Message(), "superseded by version 2") {
			t.Fatalf("err = %v", err)
		}
		_, err = dispense(phTok, id2, cancelled)
		wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(status.Convert(err).Message(), "not active") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an expired prescription cannot be filled", func(t *testing.T) {
		old := medicationRequest(p.ID, "active", 3, "2020-01-31")
		_, err := dispense(phTok, file("", old).GetRecordId(), old)
		wantCode(t, err, codes.FailedPrecondition)
		if !strings.Contains(status.Convert(err).Message(), "expired") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a clinician cannot dispense", func(t *testing.T) {
		rx3 := medicationRequest(p.ID, "active", 0, "2099-12-31")
		_, err := dispense(drTok, file("", rx3).GetRecordId(), rx3)
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("after the patient revokes, no fill", func(t *testing.T) {
		rx4 := medicationRequest(p.ID, "active", 5, "2099-12-31")
		id4 := file("", rx4).GetRecordId()
		if _, err := h.consent.CLI(t, p.Token, p.Key, "revoke", consent); err != nil {
			t.Fatal(err)
		}
		_, err := dispense(phTok, id4, rx4)
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "revoked") {
			t.Fatalf("reasons %q", info.GetMetadata()["reasons"])
		}
	})
	t.Run("the ledger holds the fills, no health data", func(t *testing.T) {
		done, err := h.ledger.Dispenses(ctx, id)
		if err != nil || len(done) != 2 {
			t.Fatalf("dispenses = %+v, %v", done, err)
		}
		for _, d := range done {
			if d.Quantity != 60 || d.RecordID != id || d.ConsentID == "" {
				t.Fatalf("dispense = %+v", d)
			}
		}
		n, err := h.ledger.RecordHistory(ctx, id)
		if err != nil || n[0].Prescription == nil || n[0].Prescription.Fills != 2 {
			t.Fatalf("notarization = %+v, %v", n, err)
		}
	})
}

// The insurer reads claims, for payment, whatever else a consent says; and
// checks a claim's documents against the notary without reading them.
func TestInsurerClaimsOnlyIntegration(t *testing.T) {
	h := startRecords(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	drTok := itest.Token(t, itest.Unique("dr-house"), auth.RoleClinician, "ProvidersMSP")
	insurer := itest.Unique("ins")
	insTok := itest.Token(t, insurer, auth.RoleInsurer, "InsurerMSP")
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "claims,labs", "--purposes", "treatment")
	// A consent wider than an insurer may use: labs, and treatment.
	h.consent.Grant(t, p, "--to", "org:InsurerMSP", "--categories", "claims,labs", "--purposes", "payment,treatment")

	example, err := os.ReadFile("../domain/fhir/testdata/r4/Claim.json")
	if err != nil {
		t.Fatal(err)
	}
	claim := bytes.ReplaceAll(example, []byte("Patient/p-example"), []byte("Patient/"+p.ID))
	put := func(raw []byte) string {
		t.Helper()
		r, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: raw}, as(drTok))
		if err != nil {
			t.Fatal(err)
		}
		return r.GetRecord().GetRecordId()
	}
	claimID, labID := put(claim), put(labResult(p.ID, itest.Unique("lab")))

	t.Run("the claim, for payment", func(t *testing.T) {
		got, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: claimID, Purpose: "payment"}, as(insTok))
		if err != nil || !bytes.Equal(got.GetResource(), claim) {
			t.Fatalf("get claim = %v", err)
		}
	})
	t.Run("labs, though the consent names them", func(t *testing.T) {
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: labID, Purpose: "payment"}, as(insTok))
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "insurers may only access claims") {
			t.Fatalf("reasons %q", info.GetMetadata()["reasons"])
		}
	})
	t.Run("the claim, for treatment, though the consent names it", func(t *testing.T) {
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: claimID, Purpose: "treatment"}, as(insTok))
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "insurers may only use purpose payment") {
			t.Fatalf("reasons %q", info.GetMetadata()["reasons"])
		}
	})
	t.Run("an insurer cannot file or dispense", func(t *testing.T) {
		_, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: claim}, as(insTok))
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("the claim's documents verify by hash alone, a changed one does not", func(t *testing.T) {
		v, err := h.grpc.VerifyRecord(ctx, &recordsv1.VerifyRecordRequest{Resource: claim})
		if err != nil || !v.GetMatch() || len(v.GetMatches()) != 1 || v.GetMatches()[0].GetRecordId() != "" {
			t.Fatalf("verify claim = %v, %v (the public answer names no record)", v, err)
		}
		changed := bytes.Replace(claim, []byte(`"value": 1.25e2`), []byte(`"value": 9.25e2`), 1)
		if bytes.Equal(changed, claim) {
			t.Fatal("the test's change did not apply")
		}
		if v, err := h.grpc.VerifyRecord(ctx, &recordsv1.VerifyRecordRequest{Resource: changed}); err != nil || v.GetMatch() {
			t.Fatalf("verify changed claim = %v, %v", v, err)
		}
	})
}

// A vaccination card anyone can check: issued to the patient, signed by the
// filing hospital with a key on the ledger and published at the issuer's
// URL; forgeries, unknown issuers and superseded records are told apart.
func TestHealthCardIntegration(t *testing.T) {
	h := startRecords(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	drTok := itest.Token(t, itest.Unique("dr-house"), auth.RoleClinician, "ProvidersMSP")
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "immunizations,demographics", "--purposes", "treatment")
	example, err := os.ReadFile("../domain/fhir/testdata/r4/Immunization.json")
	if err != nil {
		t.Fatal(err)
	}
	imm := bytes.ReplaceAll(example, []byte("Patient/p-example"), []byte("Patient/"+p.ID))
	put, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: imm}, as(drTok))
	if err != nil {
		t.Fatal(err)
	}
	id := put.GetRecord().GetRecordId()
	issue := func(tok string) (*recordsv1.IssueHealthCardResponse, error) {
		return h.grpc.IssueHealthCard(ctx, &recordsv1.IssueHealthCardRequest{PatientId: p.ID, RecordId: id}, as(tok))
	}
	check := func(card string) *recordsv1.CheckHealthCardResponse {
		t.Helper()
		c, err := h.grpc.CheckHealthCard(ctx, &recordsv1.CheckHealthCardRequest{Card: card}) // no token
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("only the patient gets a card", func(t *testing.T) {
		_, err := issue(drTok)
		wantCode(t, err, codes.PermissionDenied)
		_, err = h.grpc.IssueHealthCard(ctx, &recordsv1.IssueHealthCardRequest{PatientId: p.ID, RecordId: id})
		wantCode(t, err, codes.Unauthenticated)
	})
	card, err := issue(p.Token)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("the card verifies against the keys published at its issuer", func(t *testing.T) {
		c, err := shc.Decode(card.GetJws())
		if err != nil {
			t.Fatal(err)
		}
		if c.Payload.Issuer != "https://"+h.daemon.HTTPAddr+"/shc/ProvidersMSP" {
			t.Fatalf("iss %s", c.Payload.Issuer)
		}
		keys := fetchJWKS(t, c.Payload.Issuer+"/.well-known/jwks.json")
		if err := c.Verify(keys); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(card.GetBundle()), p.ID) {
			t.Fatal("the card names the patient's id")
		}
	})
	t.Run("the ledger holds the issuer and its key", func(t *testing.T) {
		issuers, err := h.ledger.CardIssuers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ci := range issuers {
			for _, k := range ci.Keys {
				found = found || ci.Org == "ProvidersMSP" && k.Kid == card.GetKid()
			}
		}
		if !found {
			t.Fatalf("registry %+v", issuers)
		}
	})
	t.Run("valid, in either form, with no token", func(t *testing.T) {
		for _, form := range []string{card.GetJws(), card.GetNumeric()} {
			if c := check(form); !c.GetValid() || c.GetOrg() != "ProvidersMSP" || c.GetOrgName() == "" || c.GetVersion() != 1 {
				t.Fatalf("check = %v", c)
			}
		}
	})
	t.Run("a forged card", func(t *testing.T) {
		parts := strings.Split(card.GetJws(), ".")
		mine, err := shc.Issue(mustKey(t), card.GetIssuer(), time.Now(), []string{shc.HealthCardType}, card.GetBundle())
		if err != nil {
			t.Fatal(err)
		}
		forged := parts[0] + "." + strings.Split(mine, ".")[1] + "." + parts[2]
		if c := check(forged); c.GetValid() || !strings.Contains(strings.Join(c.GetProblems(), ";"), "forged") {
			t.Fatalf("forged = %v", c)
		}
		if c := check(mine); c.GetValid() || !strings.Contains(strings.Join(c.GetProblems(), ";"), "not registered") {
			t.Fatalf("signed by an unregistered key = %v", c)
		}
	})
	t.Run("a card of an issuer the exchange does not know", func(t *testing.T) {
		evil, err := shc.Issue(mustKey(t), "https://vaccines.invalid/shc", time.Now(), []string{shc.HealthCardType}, card.GetBundle())
		if err != nil {
			t.Fatal(err)
		}
		if c := check(evil); c.GetValid() || !strings.Contains(strings.Join(c.GetProblems(), ";"), "not an organisation of the exchange") {
			t.Fatalf("unknown issuer = %v", c)
		}
	})
	t.Run("a card of a superseded record", func(t *testing.T) {
		v2 := bytes.Replace(imm, []byte("FLU-26A-0917"), []byte("FLU-26A-0918"), 1)
		if _, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, RecordId: id, Resource: v2}, as(drTok)); err != nil {
			t.Fatal(err)
		}
		if c := check(card.GetJws()); c.GetValid() || c.GetLatestVersion() != 2 || !strings.Contains(strings.Join(c.GetProblems(), ";"), "superseded") {
			t.Fatalf("superseded = %v", c)
		}
		again, err := issue(p.Token)
		if err != nil || !check(again.GetJws()).GetValid() {
			t.Fatalf("a card of version 2: %v", err)
		}
	})
	t.Run("garbage is not a card", func(t *testing.T) {
		if c := check("shc:/5676"); c.GetValid() {
			t.Fatal("garbage valid")
		}
		_, err := h.grpc.CheckHealthCard(ctx, &recordsv1.CheckHealthCardRequest{Card: strings.Repeat("x", 1<<20)})
		if status.Code(err) == codes.OK {
			t.Fatal("a megabyte was checked")
		}
	})
}

// fetchJWKS reads a JWK Set over the services' TLS.
func fetchJWKS(t *testing.T, url string) shc.JWKS {
	t.Helper()
	pem, err := os.ReadFile(itest.Env(t).ServicesTLS.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	keys, err := shc.ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
