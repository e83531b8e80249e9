package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/services/domain/merkle"
	"healthexchange/services/platform/pep"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

func TestUploadReadAnchorProve(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	start := f.now.Add(-30 * time.Minute)
	var sent []mhealth.Reading
	for seq := uint64(1); seq <= 3; seq++ {
		rs := heartRates(start.Add(time.Duration(seq-1)*time.Minute), 60, 60+float64(seq))
		sent = append(sent, rs...)
		if ack := f.ingest(t, d.upload(t, seq, rs)); ack.Status != Accepted || ack.Seq != seq || ack.SHA256 == "" {
			t.Fatalf("batch %d: %+v", seq, ack)
		}
	}
	got, truncated, err := f.svc.Read(testContext(t), ReadRequest{PatientID: "alice", Kind: "heart-rate", From: start, To: f.now})
	if err != nil || truncated || len(got) != len(sent) {
		t.Fatalf("Read = %d readings (truncated %v), %v; want %d", len(got), truncated, err, len(sent))
	}
	for i, r := range got {
		if !r.TimeFrame.At.Equal(sent[i].TimeFrame.At) || r.Value != sent[i].Value || r.Unit != "beats/min" {
			t.Fatalf("reading %d = %+v, want %+v", i, r.Reading, sent[i])
		}
	}
	if _, err := f.svc.GetProof(testContext(t), ProofRequest{PatientID: "alice", DeviceID: d.id, Seq: 2, Index: 5}); !errors.Is(err, ErrNotAnchored) {
		t.Fatalf("proof before anchoring: %v, want ErrNotAnchored", err)
	}
	n, err := f.svc.AnchorOnce(testContext(t))
	if err != nil || n != 3 || f.ledger.calls != 1 {
		t.Fatalf("AnchorOnce = %d, %v with %d ledger writes; want 3 batches in one transaction", n, err, f.ledger.calls)
	}
	if n, _ := f.svc.AnchorOnce(testContext(t)); n != 0 {
		t.Fatalf("a second anchoring found %d batches", n)
	}
	p, err := f.svc.GetProof(testContext(t), ProofRequest{PatientID: "alice", DeviceID: d.id, Seq: 2, Index: 5})
	if err != nil {
		t.Fatal(err)
	}
	verifyIndependently(t, p)
	if p.Reading.Value != 62 || !p.Reading.TimeFrame.At.Equal(start.Add(time.Minute+5*time.Second)) {
		t.Fatalf("proved reading = %+v", p.Reading)
	}
}

// verifyIndependently checks a proof the way an outside verifier would:
// the device's signature, the reading inside the signed batch, and the
// Merkle path up to the anchored root.
func verifyIndependently(t *testing.T, p Proof) {
	t.Helper()
	pub, _ := base64.StdEncoding.DecodeString(p.DevicePublicKey)
	b, err := mhealth.Verify(ed25519.PublicKey(pub), p.Payload, p.Signature)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	if r := b.Readings[p.Reading.Index]; r.Value != p.Reading.Value || !r.TimeFrame.At.Equal(p.Reading.TimeFrame.At) {
		t.Fatalf("the reading is not the signed one")
	}
	sum := sha256.Sum256(p.Payload)
	proof := merkle.Proof{Index: p.LeafIndex, Size: p.Anchor.Size}
	for _, h := range p.Path {
		hh, err := merkle.ParseHash(h)
		if err != nil {
			t.Fatal(err)
		}
		proof.Path = append(proof.Path, hh)
	}
	root, _ := merkle.ParseHash(p.Anchor.Root)
	if err := proof.Verify(merkle.LeafHash(sum[:]), root, p.Anchor.Size); err != nil {
		t.Fatalf("Merkle path: %v", err)
	}
}

func TestUploadRefusals(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	bobs := f.pair("watch-bob", "bob")
	other := device{id: "watch-1", patient: "alice"}
	_, other.key, _ = ed25519.GenerateKey(nil)
	rs := heartRates(f.now.Add(-time.Minute), 10, 70)
	f.ingest(t, d.upload(t, 5, rs))

	forged := d.upload(t, 6, rs)
	forged.Payload = append([]byte(nil), forged.Payload...)
	forged.Payload[len(forged.Payload)-1] ^= 1
	wrongDevice := bobs.upload(t, 1, rs)
	wrongDevice.DeviceID = "watch-1"
	for _, tc := range []struct {
		name string
		u    Upload
		want string
	}{
		{"unregistered device", device{id: "watch-x", patient: "alice", key: d.key}.upload(t, 1, rs), "not registered"},
		{"signed by another key", other.upload(t, 6, rs), "signature"},
		{"altered payload", forged, "signature"},
		{"batch of another device", wrongDevice, "signature"},
		{"another patient's batch", device{id: "watch-1", patient: "bob", key: d.key}.upload(t, 6, rs), "another patient"},
		{"replayed sequence number", d.upload(t, 5, heartRates(f.now.Add(-time.Minute), 10, 71)), "replay"},
		{"old sequence number", d.upload(t, 4, rs), "replay"},
		{"spans more than an hour", d.upload(t, 6, append(heartRates(f.now.Add(-3*time.Hour), 1, 70), rs...)), "within"},
		{"every reading implausible", d.upload(t, 6, heartRates(f.now.Add(-time.Minute), 3, 400)), "every reading"},
		{"empty payload", Upload{DeviceID: "watch-1"}, "payload"},
		{"bad device id", Upload{DeviceID: "../x", Payload: []byte{1}}, "device_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.objects.Keys(""))
			ack := f.ingest(t, tc.u)
			if ack.Status != Rejected || !strings.Contains(ack.Error, tc.want) {
				t.Fatalf("ack = %+v, want rejected with %q", ack, tc.want)
			}
			if after := len(f.objects.Keys("")); after != before {
				t.Fatalf("a rejected batch stored %d objects", after-before)
			}
		})
	}
	t.Run("revoked device", func(t *testing.T) {
		f.ledger.revoke("watch-1")
		if ack := f.ingest(t, d.upload(t, 6, rs)); ack.Status != Rejected || !strings.Contains(ack.Error, "revoked") {
			t.Fatalf("ack = %+v", ack)
		}
	})
}

func TestResendIsDuplicate(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	u := d.upload(t, 1, heartRates(f.now.Add(-time.Minute), 10, 70))
	first := f.ingest(t, u)
	again := f.ingest(t, u)
	if again.Status != Duplicate || again.SHA256 != first.SHA256 {
		t.Fatalf("resend = %+v", again)
	}
	f.restart(t)
	if after := f.ingest(t, u); after.Status != Duplicate {
		t.Fatalf("resend after a restart = %+v", after)
	}
	if n, _ := f.svc.AnchorOnce(testContext(t)); n != 1 {
		t.Fatalf("anchored %d batches, want the one stored", n)
	}
}

func TestImplausibleReadingsAreKeptOut(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	rs := heartRates(f.now.Add(-time.Minute), 5, 70)
	rs[1] = mhealth.NewHeartRate(300, rs[1].TimeFrame.At)
	rs[3] = mhealth.NewOxygenSaturation(120, rs[3].TimeFrame.At)
	ack := f.ingest(t, d.upload(t, 1, rs))
	if ack.Status != Accepted || len(ack.Rejected) != 2 || ack.Rejected[0].Index != 1 || ack.Rejected[1].Index != 3 ||
		!strings.Contains(ack.Rejected[0].Error, "heart_rate") {
		t.Fatalf("ack = %+v, want readings 1 and 3 rejected with the rule", ack)
	}
	got, _, err := f.svc.Read(testContext(t), ReadRequest{PatientID: "alice", From: f.now.Add(-time.Hour), To: f.now})
	if err != nil || len(got) != 3 {
		t.Fatalf("read %d readings, %v; want the 3 kept", len(got), err)
	}
	if _, err := f.svc.AnchorOnce(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetProof(testContext(t), ProofRequest{PatientID: "alice", DeviceID: "watch-1", Seq: 1, Index: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("proof of a rejected reading: %v, want ErrNotFound", err)
	}
}

func TestStorageDownThenResend(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	u := d.upload(t, 1, heartRates(f.now.Add(-time.Minute), 10, 70))
	f.objects.SetDown(true)
	if ack, err := f.svc.Ingest(testContext(t), u); err == nil || ack.Status != 0 {
		t.Fatalf("Ingest with storage down = %+v, %v; want no acknowledgement", ack, err)
	}
	f.objects.SetDown(false)
	if ack := f.ingest(t, u); ack.Status != Accepted {
		t.Fatalf("resend = %+v", ack)
	}
	t.Run("ledger down: no acknowledgement either", func(t *testing.T) {
		f.ledger.setDown(true)
		defer f.ledger.setDown(false)
		if _, err := f.svc.Ingest(testContext(t), d.upload(t, 2, heartRates(f.now.Add(-time.Minute), 1, 70))); err == nil {
			t.Fatal("Ingest with the ledger down was acknowledged")
		}
	})
}

// TestCrashBetweenStoreAndJournal: the object is stored but the process dies
// before the journal entry; the device resends (it had no acknowledgement)
// and the batch is stored once and anchored.
func TestCrashBetweenStoreAndJournal(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	u := d.upload(t, 1, heartRates(f.now.Add(-time.Minute), 10, 70))
	f.svc.hooks = &hooks{afterObjectPut: func() { f.svc.journal.Close() }} // the journal is gone: as dead
	if _, err := f.svc.Ingest(testContext(t), u); err == nil {
		t.Fatal("acknowledged without a journal entry")
	}
	f.restart(t)
	if ack := f.ingest(t, u); ack.Status != Accepted {
		t.Fatalf("resend after the crash = %+v", ack)
	}
	if keys := f.objects.Keys("alice/2026"); len(keys) != 1 {
		t.Fatalf("stored objects = %q, want one", keys)
	}
	if n, err := f.svc.AnchorOnce(testContext(t)); n != 1 || err != nil {
		t.Fatalf("AnchorOnce = %d, %v", n, err)
	}
}

func TestAnchorSurvivesFailuresAndRestarts(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	for seq := uint64(1); seq <= 4; seq++ {
		f.ingest(t, d.upload(t, seq, heartRates(f.now.Add(-time.Duration(10-seq)*time.Minute), 5, 70)))
	}
	f.ledger.setDown(true)
	if _, err := f.svc.AnchorOnce(testContext(t)); err == nil {
		t.Fatal("anchoring with the ledger down succeeded")
	}
	f.ledger.setDown(false)
	f.restart(t) // the journal still holds the four
	if n, err := f.svc.AnchorOnce(testContext(t)); n != 4 || err != nil || f.ledger.calls != 1 {
		t.Fatalf("AnchorOnce after restart = %d, %v (%d ledger writes)", n, err, f.ledger.calls)
	}
	f.restart(t) // the sequence numbers come from the saved file now
	if ack := f.ingest(t, d.upload(t, 3, heartRates(f.now.Add(-time.Minute), 5, 99))); ack.Status != Rejected {
		t.Fatalf("a used sequence number after restarts = %+v", ack)
	}
	if ack := f.ingest(t, d.upload(t, 5, heartRates(f.now.Add(-time.Minute), 5, 70))); ack.Status != Accepted {
		t.Fatalf("the next sequence number = %+v", ack)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		p, err := f.svc.GetProof(testContext(t), ProofRequest{PatientID: "alice", DeviceID: d.id, Seq: seq, Index: 0})
		if err != nil {
			t.Fatalf("proof of batch %d: %v", seq, err)
		}
		verifyIndependently(t, p)
	}
}

func TestProofTampering(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	for seq := uint64(1); seq <= 3; seq++ {
		f.ingest(t, d.upload(t, seq, heartRates(f.now.Add(-time.Duration(10-seq)*time.Minute), 5, 70)))
	}
	if _, err := f.svc.AnchorOnce(testContext(t)); err != nil {
		t.Fatal(err)
	}
	req := ProofRequest{PatientID: "alice", DeviceID: d.id, Seq: 2, Index: 0}
	t.Run("path altered", func(t *testing.T) {
		key := readingstore.ProofKey("alice", d.id, 2)
		orig, _ := f.objects.Object(key)
		defer f.objects.Set(key, orig)
		f.objects.Set(key, []byte(strings.Replace(string(orig), `"path":["`, `"path":["0`, 1)[:len(orig)]))
		if _, err := f.svc.GetProof(testContext(t), req); !errors.Is(err, ErrTampered) {
			t.Fatalf("GetProof = %v, want ErrTampered", err)
		}
	})
	t.Run("batch replaced by another of the same device", func(t *testing.T) {
		keys := f.objects.Keys("alice/2026")
		orig, _ := f.objects.Object(keys[1])
		defer f.objects.Set(keys[1], orig)
		b0, _ := f.objects.Object(keys[0])
		f.objects.Set(keys[1], b0)
		_, err := f.svc.GetProof(testContext(t), req)
		if !errors.Is(err, ErrTampered) || status.Code(toStatus(context.Background(), f.svc.log, err)) != codes.DataLoss {
			t.Fatalf("GetProof = %v, want ErrTampered (DataLoss)", err)
		}
	})
	if _, err := f.svc.GetProof(testContext(t), req); err != nil {
		t.Fatalf("restored: %v", err)
	}
}

func TestReadAccessAndRange(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	rs := append(heartRates(f.now.Add(-50*time.Minute), 3, 70),
		mhealth.NewOxygenSaturation(97, f.now.Add(-45*time.Minute)),
		mhealth.NewStepCount(80, f.now.Add(-44*time.Minute), f.now.Add(-43*time.Minute)))
	f.ingest(t, d.upload(t, 1, rs))
	f.ingest(t, d.upload(t, 2, heartRates(f.now.Add(-2*time.Hour), 2, 65)))
	for _, tc := range []struct {
		name string
		req  ReadRequest
		want int
	}{
		{"every kind in the last hour", ReadRequest{From: f.now.Add(-time.Hour), To: f.now}, 5},
		{"heart rate over three hours", ReadRequest{Kind: "heart-rate", From: f.now.Add(-3 * time.Hour), To: f.now}, 5},
		{"steps", ReadRequest{Kind: "step-count", From: f.now.Add(-3 * time.Hour), To: f.now}, 1},
		{"a window with one reading", ReadRequest{From: f.now.Add(-45 * time.Minute), To: f.now.Add(-44*time.Minute - time.Second)}, 1},
		{"limit", ReadRequest{From: f.now.Add(-3 * time.Hour), To: f.now, Limit: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.PatientID = "alice"
			got, _, err := f.svc.Read(testContext(t), tc.req)
			if err != nil || len(got) != tc.want {
				t.Fatalf("Read = %d, %v; want %d", len(got), err, tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Reading.TimeFrame.Begin().Before(got[i-1].Reading.TimeFrame.Begin()) {
					t.Fatal("not oldest first")
				}
			}
		})
	}
	for _, bad := range []ReadRequest{
		{PatientID: "alice", From: f.now, To: f.now.Add(-time.Hour)},
		{PatientID: "alice", From: f.now.Add(-8 * 24 * time.Hour), To: f.now},
		{PatientID: "alice", Kind: "mood", From: f.now.Add(-time.Hour), To: f.now},
		{PatientID: "", From: f.now.Add(-time.Hour), To: f.now},
	} {
		if _, _, err := f.svc.Read(testContext(t), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Read(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	f.decider.allow = false
	if _, _, err := f.svc.Read(testContext(t), ReadRequest{PatientID: "alice", From: f.now.Add(-time.Hour), To: f.now}); !errors.Is(err, ErrDenied) {
		t.Fatalf("Read without consent = %v, want ErrDenied", err)
	}
	f.decider.err = status.Error(codes.Unavailable, "connection refused")
	if _, err := f.svc.GetProof(testContext(t), ProofRequest{PatientID: "alice", DeviceID: "watch-1", Seq: 1}); !errors.Is(err, pep.ErrUnavailable) {
		t.Fatalf("GetProof with the consent service down = %v, want no decision", err)
	}
}

func TestErasedPatientIsNotTampering(t *testing.T) {
	f := newFixture(t)
	d := f.pair("watch-1", "alice")
	f.ingest(t, d.upload(t, 1, heartRates(f.now.Add(-time.Minute), 5, 70)))
	if err := f.vault.Erase(testContext(t), "alice"); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.Read(testContext(t), ReadRequest{PatientID: "alice", From: f.now.Add(-time.Hour), To: f.now})
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrTampered) {
		t.Fatalf("Read of an erased patient = %v, want not found (erased), not a tamper alarm", err)
	}
	if ack := f.ingest(t, d.upload(t, 2, heartRates(f.now.Add(-time.Minute), 5, 70))); ack.Status != Rejected || !strings.Contains(ack.Error, "erased") {
		t.Fatalf("a batch of an erased patient = %+v", ack)
	}
}
