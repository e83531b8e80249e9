// Package demo runs the exchange's story end to end against the running test
// network and narrates it: a patient registers and grants, a clinician's
// access is checked, a record is notarized, a wearable is paired and its data
// anchored, accesses are logged, a researcher releases a dataset, forgeries
// are refused, and after a revoke the clinician is denied.
//
// It must never stop on a surprise quietly: every step either shows what the
// ledger answered or returns the error.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/ledger"
)

// Config says where the network's client description is.
type Config struct {
	NetworkFile string
	Out         io.Writer
}

// Validate reports a missing setting.
func (c Config) Validate() error {
	if c.NetworkFile == "" || c.Out == nil {
		return errors.New("demo: network file and output are required")
	}
	return nil
}

type story struct {
	out       io.Writer
	providers *ledger.Client
	research  *ledger.Client
	run       string // suffix that keeps ids of this run apart from earlier ones
}

func (s *story) step(n int, title string) { fmt.Fprintf(s.out, "\n== %d. %s\n", n, title) }

func (s *story) say(actor, format string, args ...any) {
	fmt.Fprintf(s.out, "  %-10s %s\n", actor, fmt.Sprintf(format, args...))
}

func (s *story) id(prefix string) string { return prefix + "-" + s.run }

// Run tells the story once. Ids carry a per-run suffix, so it can run again
// on the same network.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s := &story{out: cfg.Out, run: strconv.FormatInt(time.Now().UnixMilli(), 36)}
	for _, c := range []struct {
		org string
		dst **ledger.Client
	}{{"providers", &s.providers}, {"research", &s.research}} {
		lc, err := ledger.ConfigFromNetworkFile(cfg.NetworkFile, c.org)
		if err != nil {
			return err
		}
		if *c.dst, err = ledger.Dial(lc); err != nil {
			return err
		}
		defer (*c.dst).Close()
	}
	return s.tell(ctx)
}

func (s *story) tell(ctx context.Context) error {
	patient, err := patientkey.Generate(s.id("pat"))
	if err != nil {
		return err
	}
	clinician := s.id("dr-alice")

	s.step(1, "A patient registers with a key only their app holds")
	start := time.Now()
	reg, err := s.providers.RegisterPatient(ctx, must(patient.Register()))
	if err != nil {
		return err
	}
	s.say("patient", "%s registered, public key %s… (committed in %s)", reg.PatientID, reg.PublicKey[:12], since(start))

	s.step(2, "The patient grants a clinician labs and conditions, for treatment, for 30 days")
	grant := ledgerapi.ConsentGrant{
		ConsentID:  s.id("consent-treatment"),
		Grantee:    ledgerapi.Grantee{Kind: ledgerapi.GranteeUser, ID: clinician},
		Categories: []string{"labs", "conditions"},
		Purposes:   []string{"treatment"},
		ExpiresAt:  ledgerapi.FormatTime(time.Now().Add(30 * 24 * time.Hour)),
	}
	signedGrant := must(patient.Grant(grant))
	start = time.Now()
	consent, err := s.providers.GrantConsent(ctx, signedGrant)
	if err != nil {
		return err
	}
	s.say("patient", "consent %s: %s may read %v for %v until %s (committed in %s)",
		consent.ConsentID, clinician, consent.Categories, consent.Purposes, consent.ExpiresAt, since(start))

	s.step(3, "The clinician's access is checked against the ledger")
	for _, q := range []struct{ category, purpose string }{{"labs", "treatment"}, {"imaging", "treatment"}, {"labs", "research"}} {
		if err := s.check(ctx, patient.PatientID(), clinician, q.category, q.purpose); err != nil {
			return err
		}
	}

	s.step(4, "A lab result is notarized; its bytes stay off the ledger, only the hash goes on")
	if err := s.notarize(ctx, patient.PatientID(), clinician); err != nil {
		return err
	}

	s.step(5, "The patient pairs a wearable; a batch of its readings is anchored")
	if err := s.wearable(ctx, patient); err != nil {
		return err
	}

	s.step(6, "Every access decision is logged; the patient reads the log")
	if err := s.accessLog(ctx, patient.PatientID(), clinician); err != nil {
		return err
	}

	s.step(7, "The patient consents to research; a researcher records a dataset release")
	if err := s.releaseDataset(ctx, patient); err != nil {
		return err
	}

	s.step(8, "Forgeries are refused by the chaincode")
	forger, err := patientkey.Generate(patient.PatientID())
	if err != nil {
		return err
	}
	forger.SetNonce(1000)
	forged := grant
	forged.ConsentID = s.id("consent-forged")
	_, err = s.providers.GrantConsent(ctx, must(forger.Grant(forged)))
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("forged grant: %w", err)
	}
	s.say("attacker", "grant signed with another key for %s: refused (%s)", patient.PatientID(), reason(err))
	_, err = s.providers.GrantConsent(ctx, signedGrant)
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("replayed grant: %w", err)
	}
	s.say("attacker", "the patient's own grant sent a second time: refused (%s)", reason(err))

	s.step(9, "The patient revokes; the clinician's next check is denied")
	start = time.Now()
	revoked, err := s.providers.RevokeConsent(ctx, must(patient.Revoke(consent.ConsentID)))
	if err != nil {
		return err
	}
	s.say("patient", "consent %s is now %s (committed in %s)", revoked.ConsentID, revoked.Status, since(start))
	if err := s.check(ctx, patient.PatientID(), clinician, "labs", "treatment"); err != nil {
		return err
	}
	history, err := s.providers.ConsentHistory(ctx, consent.ConsentID)
	if err != nil {
		return err
	}
	for _, v := range history {
		s.say("ledger", "consent %s at %s: %s (tx %s…)", v.Consent.ConsentID, v.Timestamp, v.Consent.Status, v.TxID[:10])
	}
	fmt.Fprintln(s.out, "\nThe story ran to the end.")
	return nil
}

func (s *story) check(ctx context.Context, patientID, clinician, category, purpose string) error {
	d, err := s.providers.Check(ctx, ledger.CheckQuery{
		PatientID: patientID, SubjectID: clinician, SubjectOrg: ledgerapi.ProvidersMSP,
		Category: category, Purpose: purpose,
	})
	if err != nil {
		return err
	}
	if d.Allowed {
		s.say("clinician", "read %s for %s: ALLOWED by consent %s", category, purpose, d.ConsentID)
	} else {
		s.say("clinician", "read %s for %s: DENIED (%s)", category, purpose, d.Reason)
	}
	return nil
}

func (s *story) notarize(ctx context.Context, patientID, clinician string) error {
	record := []byte(`{"resourceType":"Observation","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1,"unit":"%"}}`)
	n, err := s.providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: s.id("rec-hba1c"), PatientID: patientID, SHA256: digest(record),
		Category: "labs", Author: clinician, Version: 1,
	})
	if err != nil {
		return err
	}
	s.say("clinician", "record %s v%d notarized: sha256 %s… at %s", n.RecordID, n.Version, n.SHA256[:16], n.Timestamp)
	for _, c := range []struct {
		label string
		bytes []byte
	}{{"the stored bytes", record}, {"a copy with one digit changed", []byte(string(record[:len(record)-12]) + `7.1,"unit":"%"}}`)}} {
		r, err := s.providers.Verify(ctx, n.RecordID, digest(c.bytes))
		if err != nil {
			return err
		}
		if r.Match {
			s.say("anyone", "verify %s: MATCH, version %d notarized at %s", c.label, r.Notarization.Version, r.Notarization.Timestamp)
		} else {
			s.say("anyone", "verify %s: MISMATCH (%s)", c.label, r.Reason)
		}
	}
	return nil
}

func (s *story) wearable(ctx context.Context, patient *patientkey.Key) error {
	devicePublic, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	dev, err := s.providers.RegisterDevice(ctx, must(patient.RegisterDevice(s.id("watch"), base64.StdEncoding.EncodeToString(devicePublic))))
	if err != nil {
		return err
	}
	s.say("patient", "device %s paired (%s)", dev.DeviceID, dev.Status)
	from := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	a, err := s.providers.Anchor(ctx, ledgerapi.Anchor{
		BatchID: s.id("batch-1"), PatientID: patient.PatientID(), DeviceID: dev.DeviceID,
		Root: digest([]byte("merkle root of 60 heart-rate readings " + s.run)), Count: 60,
		From: ledgerapi.FormatTime(from), To: ledgerapi.FormatTime(from.Add(59 * time.Second)),
	})
	if err != nil {
		return err
	}
	s.say("ingest", "batch %s: %d readings, Merkle root %s… anchored in tx %s…", a.BatchID, a.Count, a.Root[:16], a.TxID[:10])
	return nil
}

func (s *story) accessLog(ctx context.Context, patientID, clinician string) error {
	now := time.Now().UTC()
	events := []ledgerapi.AccessEvent{
		{EventID: s.id("ev-1"), Actor: clinician, ActorOrg: ledgerapi.ProvidersMSP, PatientID: patientID,
			Action: "read", Resource: "record/" + s.id("rec-hba1c"), Purpose: "treatment",
			Decision: ledgerapi.DecisionAllow, Time: ledgerapi.FormatTime(now)},
		{EventID: s.id("ev-2"), Actor: clinician, ActorOrg: ledgerapi.ProvidersMSP, PatientID: patientID,
			Action: "read", Resource: "category/imaging", Purpose: "treatment",
			Decision: ledgerapi.DecisionDeny, Reason: "category imaging not granted", Time: ledgerapi.FormatTime(now.Add(time.Second))},
	}
	r, err := s.providers.AppendAccessEvents(ctx, events)
	if err != nil {
		return err
	}
	s.say("service", "%d access events written in one transaction", r.Appended)
	page, err := s.providers.AccessEvents(ctx, patientID, 50, "")
	if err != nil {
		return err
	}
	for _, e := range page.Items {
		s.say("patient", "%s %s %s %s for %s: %s", e.Time, e.Actor, e.Action, e.Resource, e.Purpose, e.Decision)
	}
	return nil
}

func (s *story) releaseDataset(ctx context.Context, patient *patientkey.Key) error {
	c, err := s.providers.GrantConsent(ctx, must(patient.Grant(ledgerapi.ConsentGrant{
		ConsentID:  s.id("consent-research"),
		Grantee:    ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP},
		Categories: []string{"vitals", "labs"},
		Purposes:   []string{ledgerapi.PurposeResearch},
	})))
	if err != nil {
		return err
	}
	s.say("patient", "consent %s: organisation %s, %v, for research", c.ConsentID, c.Grantee.ID, c.Categories)
	rel, err := s.research.RecordDatasetRelease(ctx, ledgerapi.DatasetReleaseRequest{
		DatasetID: s.id("ds"), SHA256: digest([]byte("dataset file " + s.run)), StudyID: "study-sleep-hr",
		Researcher: s.id("res-bob"), CohortSize: 1, K: 2, ConsentIDs: []string{c.ConsentID},
	})
	if err != nil {
		return err
	}
	s.say("researcher", "dataset %s released: file sha256 %s…, cohort %d, k=%d, consent set %s…",
		rel.DatasetID, rel.SHA256[:16], rel.CohortSize, rel.K, rel.ConsentSetSHA256[:16])
	return nil
}

func must(s ledger.Signed, err error) ledger.Signed {
	if err != nil {
		panic(err) // signing with a generated key cannot fail
	}
	return s
}

func expectRejected(err error) error {
	if errors.Is(err, ledger.ErrRejected) {
		return nil
	}
	if err == nil {
		return errors.New("the ledger accepted it")
	}
	return err
}

func reason(err error) string {
	var le *ledger.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return err.Error()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
