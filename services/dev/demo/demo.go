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
	stMarys   *ledger.Client
	research  *ledger.Client
	run       string // suffix that keeps ids of this run apart from earlier ones
	lastHash  string // the hash of the record notarized
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
	}{{"providers", &s.providers}, {"stmarys", &s.stMarys}, {"research", &s.research}} {
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

	s.step(0, "The consortium: every institution is an organisation of the channel")
	for _, o := range ledgerapi.Organisations {
		s.say("channel", "%-13s %-9s %s", o.MSPID, o.Kind, o.Name)
	}
	s.say("channel", "every write is endorsed by the peers of ProvidersMSP and ResearchMSP: no organisation writes alone")

	s.step(1, "A patient registers with a key only their app holds")
	start := time.Now()
	reg, err := s.providers.RegisterPatient(ctx, must(patient.Register()))
	if err != nil {
		return err
	}
	s.say("patient", "%s registered, public key %s… (committed in %s)", reg.PatientID, reg.PublicKey[:12], since(start))

	s.step(2, "The patient grants Dr. Alice of St Mary's labs and conditions, for treatment, for 30 days")
	grant := ledgerapi.ConsentGrant{
		ConsentID:  s.id("consent-treatment"),
		Grantee:    ledgerapi.UserGrantee(ledgerapi.StMarysMSP, clinician),
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

	s.step(4, "The patient lets the Providers hospital file labs; a lab result is notarized, filed by Providers")
	filing, err := s.providers.GrantConsent(ctx, must(patient.Grant(ledgerapi.ConsentGrant{
		ConsentID: s.id("consent-filing"), Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ProvidersMSP},
		Categories: []string{"labs"}, Purposes: []string{"treatment"},
	})))
	if err != nil {
		return err
	}
	s.say("patient", "consent %s: organisation %s may file and read %v", filing.ConsentID, filing.Grantee.ID, filing.Categories)
	if err := s.notarize(ctx, patient.PatientID()); err != nil {
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
	_, err = s.stMarys.Notarize(ctx, ledgerapi.Notarization{RecordID: s.id("rec-hba1c"), PatientID: patient.PatientID(),
		SHA256: digest([]byte("a forged version")), Category: "labs", Version: 2, PreviousSHA256: s.lastHash})
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("another hospital's version: %w", err)
	}
	s.say("St Mary's", "a version 2 of Providers' record: refused (%s)", reason(err))
	forgedEvent := s.event("ev-forged", clinician, ledgerapi.StMarysMSP, patient.PatientID(), "category/labs", ledgerapi.DecisionAllow, "consent")
	_, err = s.providers.AppendAccessEvents(ctx, []ledgerapi.AccessEvent{forgedEvent})
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("a forged access event: %w", err)
	}
	s.say("Providers", "an access event in St Mary's name: refused (%s)", reason(err))
	_, err = s.providers.RequestErasure(ctx, must(forger.Erase(s.id("erasure-forged"))))
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("a forged erasure: %w", err)
	}
	s.say("Providers", "an erasure of the patient signed by another key: refused (%s)", reason(err))

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

	s.step(10, "The patient's phone is stolen: they rotate their key; the thief's grant is refused")
	thief := patient
	newKey, err := patientkey.Generate(patient.PatientID())
	if err != nil {
		return err
	}
	rotation, err := patient.RotateTo(newKey)
	if err != nil {
		return err
	}
	rotated, err := s.stMarys.RotateKey(ctx, rotation)
	if err != nil {
		return err
	}
	s.say("patient", "key rotated through St Mary's: key version %d since %s", rotated.KeyVersion, rotated.KeyChangedAt)
	stolen := grant
	stolen.ConsentID, stolen.Grantee = s.id("consent-thief"), ledgerapi.UserGrantee(ledgerapi.InsurerMSP, s.id("mallory"))
	_, err = s.providers.GrantConsent(ctx, must(thief.Grant(stolen)))
	if err := expectRejected(err); err != nil {
		return fmt.Errorf("the thief's grant: %w", err)
	}
	s.say("thief", "grant with the old key: refused (%s)", reason(err))
	fmt.Fprintln(s.out, "\nThe story ran to the end.")
	return nil
}

func (s *story) check(ctx context.Context, patientID, clinician, category, purpose string) error {
	d, err := s.providers.Check(ctx, ledger.CheckQuery{
		PatientID: patientID, SubjectID: clinician, SubjectOrg: ledgerapi.StMarysMSP,
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

func (s *story) notarize(ctx context.Context, patientID string) error {
	record := []byte(`{"resourceType":"Observation","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1,"unit":"%"}}`)
	n, err := s.providers.Notarize(ctx, ledgerapi.Notarization{
		RecordID: s.id("rec-hba1c"), PatientID: patientID, SHA256: digest(record), Category: "labs", Version: 1,
	})
	if err != nil {
		return err
	}
	s.lastHash = n.SHA256
	s.say("Providers", "record %s v%d filed by %s (%s): sha256 %s… at %s", n.RecordID, n.Version, n.Org, n.Author, n.SHA256[:16], n.Timestamp)
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

// event is a clinician's read for treatment, decided with one reason code.
func (s *story) event(id, actor, org, patientID, resource, decision, code string) ledgerapi.AccessEvent {
	return ledgerapi.AccessEvent{EventID: s.id(id), Actor: actor, ActorRole: ledgerapi.RoleClinician, ActorOrg: org,
		PatientID: patientID, Action: ledgerapi.ActionRead, Resource: resource, Purpose: "treatment",
		Decision: decision, ReasonCodes: []string{code}, Time: ledgerapi.FormatTime(time.Now().UTC())}
}

func (s *story) accessLog(ctx context.Context, patientID, clinician string) error {
	events := []ledgerapi.AccessEvent{
		s.event("ev-1", clinician, ledgerapi.StMarysMSP, patientID, "record/"+s.id("rec-hba1c"), ledgerapi.DecisionAllow, "consent"),
		s.event("ev-2", clinician, ledgerapi.StMarysMSP, patientID, "category/imaging", ledgerapi.DecisionDeny, "category-not-granted"),
	}
	r, err := s.stMarys.AppendAccessEvents(ctx, events)
	if err != nil {
		return err
	}
	s.say("St Mary's", "%d access events of its clinician written in one transaction", r.Appended)
	page, err := s.providers.AccessEvents(ctx, patientID, 50, "")
	if err != nil {
		return err
	}
	for _, e := range page.Items {
		s.say("patient", "%s %s (%s) %s %s for %s: %s %v, recorded by %s", e.Time, e.Actor, e.ActorOrg, e.Action, e.Resource,
			e.Purpose, e.Decision, e.ReasonCodes, e.RecordedBy)
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
