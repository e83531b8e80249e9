//go:build integration

package ingest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/merkle"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
	"healthexchange/wearables/mhealth"
)

// These tests run ingestd and consentd as real processes against the real
// test network and policies, with a private MinIO server.

var (
	consentdBin, ingestdBin string
	store                   *itest.MinIO
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	for _, b := range []struct {
		pkg string
		bin *string
	}{{"healthexchange/services/cmd/consentd", &consentdBin}, {"healthexchange/services/cmd/ingestd", &ingestdBin}} {
		bin, cleanup, err := itest.Build(b.pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingest integration: building", b.pkg, err)
			return 1
		}
		defer cleanup()
		*b.bin = bin
	}
	var err error
	if store, err = itest.StartMinIO(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest integration: private MinIO:", err)
		return 1
	}
	defer store.Close()
	return m.Run()
}

// harness is a consentd and an ingestd, and a client of the latter.
type harness struct {
	consent *itest.Consentd
	ingest  *itest.Process
	addr    string
	client  ingestv1.IngestServiceClient
}

func start(t *testing.T) *harness { return startB(t) }

// startB starts the harness for a test or a benchmark; extra flags for
// ingestd come last, so they win.
func startB(t testing.TB, extra ...string) *harness {
	t.Helper()
	h := &harness{consent: itest.NewConsentd(t, consentdBin), addr: itest.FreeAddr(t)}
	h.ingest = itest.StartDaemon(t, ingestdBin, append([]string{"-env", itest.Env(t).Path, "-store-config", store.ConfigPath(),
		"-state", t.TempDir(), "-grpc", h.addr, "-http", itest.FreeAddr(t), "-consent", h.consent.GRPCAddr,
		"-instance", itest.Unique("ingest"), "-anchor-every", "300ms"}, extra...), h.addr)
	h.client = ingestv1.NewIngestServiceClient(itest.Dial(t, h.addr, "app-clinician"))
	return h
}

// device is a wearable key, paired (or not) with a patient.
type device struct {
	id, patient string
	key         ed25519.PrivateKey
}

// pair makes a device key and registers it for the patient with the patient
// CLI (a signed device.register through the consent service).
func (h *harness) pair(t *testing.T, p itest.Patient) device {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(nil)
	d := device{id: itest.Unique("watch"), patient: p.ID, key: key}
	if _, err := h.consent.CLI(t, p.Token, p.Key, "device", "pair", "--id", d.id,
		"--public-key", base64.StdEncoding.EncodeToString(pub)); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d device) signed(t *testing.T, seq uint64, rs []mhealth.Reading) *ingestv1.UploadRequest {
	t.Helper()
	sb, err := mhealth.Sign(d.key, mhealth.Batch{DeviceID: d.id, PatientID: d.patient, Seq: seq, Readings: rs})
	if err != nil {
		t.Fatal(err)
	}
	return &ingestv1.UploadRequest{DeviceId: d.id, Payload: sb.Payload, Signature: sb.Signature}
}

// upload sends batches on one stream and returns their acknowledgements.
func (h *harness) upload(ctx context.Context, t *testing.T, reqs ...*ingestv1.UploadRequest) []*ingestv1.UploadResponse {
	t.Helper()
	stream, err := h.client.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var acks []*ingestv1.UploadResponse
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
		ack, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	return acks
}

func heartRates(start time.Time, n int, bpm float64) []mhealth.Reading {
	rs := make([]mhealth.Reading, n)
	for i := range rs {
		rs[i] = mhealth.NewHeartRate(bpm+float64(i%5), start.Add(time.Duration(i)*time.Second))
	}
	return rs
}

func as(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }

// proof fetches a reading's proof once its batch is anchored.
func (h *harness) proof(ctx context.Context, t *testing.T, tok string, req *ingestv1.GetProofRequest) *ingestv1.GetProofResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := h.client.GetProof(ctx, req, as(tok))
		if err == nil {
			return p
		}
		if status.Code(err) != codes.FailedPrecondition || time.Now().After(deadline) {
			t.Fatalf("GetProof(%v) = %v", req, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verify checks a proof as an outside verifier would, and returns why not.
func verify(p *ingestv1.GetProofResponse) error {
	pub, err := base64.StdEncoding.DecodeString(p.GetDevicePublicKey())
	if err != nil {
		return err
	}
	b, err := mhealth.Verify(ed25519.PublicKey(pub), p.GetPayload(), p.GetSignature())
	if err != nil {
		return err
	}
	r := b.Readings[p.GetReading().GetIndex()]
	if r.Value != p.GetReading().GetValue() || r.Kind.String() != p.GetReading().GetKind() {
		return fmt.Errorf("the reading is not the signed one")
	}
	sum := sha256.Sum256(p.GetPayload())
	proof := merkle.Proof{Index: int(p.GetLeafIndex()), Size: int(p.GetAnchor().GetSize())}
	for _, s := range p.GetPath() {
		h, err := merkle.ParseHash(s)
		if err != nil {
			return err
		}
		proof.Path = append(proof.Path, h)
	}
	root, err := merkle.ParseHash(p.GetAnchor().GetRoot())
	if err != nil {
		return err
	}
	return proof.Verify(merkle.LeafHash(sum[:]), root, int(p.GetAnchor().GetSize()))
}

func TestIngestIntegration(t *testing.T) {
	h := start(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	d := h.pair(t, p)
	clinician := itest.Unique("dr-vitals")
	tok := itest.Token(t, clinician, auth.RoleClinician, "StMarysMSP")
	h.consent.Grant(t, p, "--to", "user:StMarysMSP/"+clinician, "--categories", "vitals", "--purposes", "treatment")
	now := time.Now().UTC()
	start := now.Add(-20 * time.Minute)

	withBad := heartRates(start.Add(2*time.Minute), 30, 70)
	withBad[7] = mhealth.NewHeartRate(400, withBad[7].TimeFrame.At)
	acks := h.upload(ctx, t,
		d.signed(t, 1, heartRates(start, 60, 60)),
		d.signed(t, 2, withBad))
	if acks[0].GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED || acks[1].GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED {
		t.Fatalf("acks = %v", acks)
	}
	t.Run("an implausible reading is rejected with its rule, the rest kept", func(t *testing.T) {
		rej := acks[1].GetRejected()
		if len(rej) != 1 || rej[0].GetIndex() != 7 || !strings.Contains(rej[0].GetError(), "heart_rate.value 400") {
			t.Fatalf("rejected = %v", rej)
		}
	})
	t.Run("a consented clinician reads them back", func(t *testing.T) {
		got, err := h.client.ReadReadings(ctx, &ingestv1.ReadReadingsRequest{PatientId: p.ID, Kind: "heart-rate",
			From: start.Format(time.RFC3339Nano), To: now.Format(time.RFC3339Nano)}, as(tok))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.GetReadings()); n != 89 {
			t.Fatalf("%d readings, want 60 + 29", n)
		}
		if r := got.GetReadings()[0]; r.GetValue() != 60 || r.GetUnit() != "beats/min" || r.GetDeviceId() != d.id {
			t.Fatalf("first reading = %v", r)
		}
	})
	t.Run("denied without consent", func(t *testing.T) {
		other := itest.Token(t, itest.Unique("dr-none"), auth.RoleClinician, "StMarysMSP")
		_, err := h.client.ReadReadings(ctx, &ingestv1.ReadReadingsRequest{PatientId: p.ID,
			From: start.Format(time.RFC3339Nano), To: now.Format(time.RFC3339Nano)}, as(other))
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the proof verifies, and fails for an altered reading", func(t *testing.T) {
		pr := h.proof(ctx, t, tok, &ingestv1.GetProofRequest{PatientId: p.ID, DeviceId: d.id, Seq: 2, Index: 3})
		if err := verify(pr); err != nil {
			t.Fatalf("proof: %v", err)
		}
		if pr.GetAnchor().GetTxId() == "" || pr.GetAnchor().GetSize() < 1 {
			t.Fatalf("anchor = %v", pr.GetAnchor())
		}
		altered := proto.Clone(pr).(*ingestv1.GetProofResponse)
		altered.Payload[len(altered.Payload)-1] ^= 0x01 // the last reading's value
		if err := verify(altered); err == nil {
			t.Fatal("an altered batch verified")
		}
		if _, err := h.client.GetProof(ctx, &ingestv1.GetProofRequest{PatientId: p.ID, DeviceId: d.id, Seq: 2, Index: 7}, as(tok)); status.Code(err) != codes.NotFound {
			t.Fatalf("proof of the rejected reading: %v", err)
		}
	})
	t.Run("refused batches", func(t *testing.T) {
		stranger := device{id: itest.Unique("watch-unpaired"), patient: p.ID}
		_, stranger.key, _ = ed25519.GenerateKey(nil)
		q := itest.NewPatient(t, h.consent)
		qs := h.pair(t, q)
		asOther := device{id: qs.id, patient: p.ID, key: qs.key} // q's device, claiming p's batch
		badSig := d.signed(t, 3, heartRates(now.Add(-time.Minute), 5, 70))
		badSig.Signature[0] ^= 0x80
		for _, tc := range []struct {
			name string
			req  *ingestv1.UploadRequest
			want string
		}{
			{"unregistered device", stranger.signed(t, 1, heartRates(now.Add(-time.Minute), 5, 70)), "not registered"},
			{"wrong patient", asOther.signed(t, 1, heartRates(now.Add(-time.Minute), 5, 70)), "another patient"},
			{"bad signature", badSig, "signature"},
			{"replayed sequence number", d.signed(t, 2, heartRates(now.Add(-time.Minute), 5, 70)), "replay"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ack := h.upload(ctx, t, tc.req)[0]
				if ack.GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_REJECTED || !strings.Contains(ack.GetError(), tc.want) {
					t.Fatalf("ack = %v, want rejected with %q", ack, tc.want)
				}
			})
		}
		t.Run("revoked device", func(t *testing.T) {
			if _, err := h.consent.CLI(t, p.Token, p.Key, "device", "revoke", d.id); err != nil {
				t.Fatal(err)
			}
			ack := h.upload(ctx, t, d.signed(t, 3, heartRates(now.Add(-time.Minute), 5, 70)))[0]
			if ack.GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_REJECTED || !strings.Contains(ack.GetError(), "revoked") {
				t.Fatalf("ack = %v", ack)
			}
		})
	})
}

// TestFirstBatchAfterRevocationIsRefused attacks the device view: a device
// whose batches are being accepted is revoked straight on the ledger (not
// through any of our services), and the very next batch, sent the moment the
// revocation's commit is confirmed, must be refused. Several rounds, each a
// device the view already knows as active.
func TestFirstBatchAfterRevocationIsRefused(t *testing.T) {
	h := start(t)
	ctx := itest.Context(t)
	lcfg, err := itest.Env(t).Ledger("providers")
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ledger.Dial(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	key, err := patientkey.Generate(itest.Unique("pat"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := key.Register()
	if _, err := lc.RegisterPatient(ctx, s); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for round := range 6 {
		pub, priv, _ := ed25519.GenerateKey(nil)
		d := device{id: itest.Unique("watch"), patient: key.PatientID(), key: priv}
		reg, _ := key.RegisterDevice(d.id, base64.StdEncoding.EncodeToString(pub))
		if _, err := lc.RegisterDevice(ctx, reg); err != nil {
			t.Fatal(err)
		}
		// Accepted until the revocation (the first batch may find the
		// device on the ledger before the view has its block; the later
		// ones find it in the view).
		for seq := uint64(1); seq <= 3; seq++ {
			if ack := h.upload(ctx, t, d.signed(t, seq, heartRates(now.Add(-time.Minute), 5, 70)))[0]; ack.GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_ACCEPTED {
				t.Fatalf("round %d: batch %d before the revocation: %v", round, seq, ack)
			}
		}
		rev, _ := key.RevokeDevice(d.id)
		if _, err := lc.RevokeDevice(ctx, rev); err != nil {
			t.Fatal(err)
		}
		ack := h.upload(ctx, t, d.signed(t, 4, heartRates(now.Add(-time.Minute), 5, 70)))[0]
		if ack.GetStatus() != ingestv1.BatchStatus_BATCH_STATUS_REJECTED || !strings.Contains(ack.GetError(), "revoked") {
			t.Fatalf("round %d: the first batch after the revocation committed: %v, want rejected as revoked", round, ack)
		}
	}
}
