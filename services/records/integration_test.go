//go:build integration

package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/pep"
	"healthexchange/services/platform/vault"
	"healthexchange/services/store/recordstore"
)

// These tests run the records service (in this process, so a test can act
// at a chosen step of a put) against the real test network, a real
// consentd process with the real policies, and a private MinIO server that
// the tests may kill without disturbing other packages' tests.

var (
	consentdBin string
	store       *itest.MinIO
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin, cleanup, err := itest.Build("healthexchange/services/cmd/consentd")
	if err != nil {
		fmt.Fprintln(os.Stderr, "records integration: building consentd:", err)
		return 1
	}
	defer cleanup()
	consentdBin = bin
	if store, err = itest.StartMinIO(); err != nil {
		fmt.Fprintln(os.Stderr, "records integration: private MinIO:", err)
		return 1
	}
	defer store.Close()
	return m.Run()
}

// harness is a records service in this process and its clients.
type harness struct {
	consent *itest.Consentd
	grpc    recordsv1.RecordServiceClient
	ledger  *ledger.Client
	minio   *minio.Client
	cfg     Config
	daemon  daemon.Config
	hooks   *hooks
	logs    *itest.LogBuffer
}

func startRecords(t testing.TB) *harness {
	t.Helper()
	h := &harness{consent: itest.NewConsentd(t, consentdBin), hooks: &hooks{}, logs: &itest.LogBuffer{}}
	s := itest.DaemonSettings(t, "records")
	s.ConsentAddr, s.StoreConfig = h.consent.GRPCAddr, store.ConfigPath()
	d, err := s.Load("records")
	if err != nil {
		t.Fatal(err)
	}
	d.Backends.StoreTimeout = 5 * time.Second
	d.Log = slog.New(slog.NewJSONHandler(io.MultiWriter(h.logs, testWriter{t}), nil))
	cfg := NewConfig()
	cfg.hooks = h.hooks
	h.cfg, h.daemon = cfg, d
	itest.RunDaemon(t, d, func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) { return New(ctx, cfg, p) })

	h.grpc = recordsv1.NewRecordServiceClient(itest.Dial(t, d.GRPCAddr, "app-clinician"))
	if h.ledger, err = ledger.Dial(d.Backends.Ledgers[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.ledger.Close() })
	if h.minio, err = objectstore.New(d.Backends.Store); err != nil {
		t.Fatal(err)
	}
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// as is the call option that sends a user's token.
func as(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }

// objectKeys lists the private MinIO's keys under prefix.
func (h *harness) objectKeys(ctx context.Context, t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	for info := range h.minio.ListObjects(ctx, h.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			t.Fatal(info.Err)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func (h *harness) readObject(ctx context.Context, t *testing.T, key string) []byte {
	t.Helper()
	obj, err := h.minio.GetObject(ctx, h.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (h *harness) writeObject(ctx context.Context, t *testing.T, key string, data []byte) {
	t.Helper()
	if _, err := h.minio.PutObject(ctx, h.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is a status with code, and returns its
// ErrorInfo detail, if any.
func wantCode(t *testing.T, err error, code codes.Code) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("err = %v, want code %v", err, code)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func labResult(patientID, marker string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final",
  "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
  "code":{"text":"HbA1c ` + marker + `"},"subject":{"reference":"Patient/` + patientID + `"},
  "valueQuantity":{"value":6.1,"unit":"%"}}`)
}

func TestRecordsIntegration(t *testing.T) {
	h := startRecords(t)
	ctx := itest.Context(t)
	p := itest.NewPatient(t, h.consent)
	writer := itest.Unique("dr-house")  // files records, as a clinician of ProvidersMSP
	reader := itest.Unique("dr-wilson") // reads, under a consent to them alone
	stranger := itest.Unique("dr-nobody")
	writerTok := itest.Token(t, writer, auth.RoleClinician, "ProvidersMSP")
	readerTok := itest.Token(t, reader, auth.RoleClinician, "StMarysMSP")
	strangerTok := itest.Token(t, stranger, auth.RoleClinician, "StMarysMSP")
	h.consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
	readConsent := h.consent.Grant(t, p, "--to", "user:StMarysMSP/"+reader, "--categories", "labs", "--purposes", "treatment")

	marker := itest.Unique("marker")
	raw := labResult(p.ID, marker)
	sum := fhir.Digest(raw)
	put, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: raw, IdempotencyKey: "first"}, as(writerTok))
	if err != nil {
		t.Fatal(err)
	}
	rec := put.GetRecord()
	key := recordstore.VersionKey(p.ID, rec.GetRecordId(), 1, sum)

	t.Run("put is notarized", func(t *testing.T) {
		if rec.GetVersion() != 1 || rec.GetSha256() != sum || rec.GetCategory() != "labs" || rec.GetOrg() != "ProvidersMSP" ||
			rec.GetAuthor() == "" || rec.GetTxId() == "" {
			t.Fatalf("put = %v, want version 1 of labs filed by ProvidersMSP with hash %s", rec, sum)
		}
		v, err := h.ledger.Verify(ctx, rec.GetRecordId(), sum)
		if err != nil || !v.Match {
			t.Fatalf("ledger verify = %+v, %v", v, err)
		}
	})
	t.Run("stored bytes hold no plaintext", func(t *testing.T) {
		keys := h.objectKeys(ctx, t, p.ID+"/")
		if len(keys) != 2 { // the version and the put's idempotency entry
			t.Fatalf("objects of the patient: %q", keys)
		}
		for _, k := range keys {
			data := h.readObject(ctx, t, k)
			for _, secret := range []string{marker, "HbA1c", "Observation", "valueQuantity"} {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("object %s contains %q", k, secret)
				}
			}
		}
	})
	t.Run("consented clinician fetches exactly what was written", func(t *testing.T) {
		got, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId()}, as(readerTok))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.GetResource(), raw) || got.GetResourceType() != "Observation" || got.GetRecord().GetSha256() != sum {
			t.Fatalf("get = %s", got.GetResource())
		}
	})
	t.Run("retry with the same key stores nothing new", func(t *testing.T) {
		again, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: raw, IdempotencyKey: "first"}, as(writerTok))
		if err != nil || !again.GetReplayed() || again.GetRecord().GetRecordId() != rec.GetRecordId() {
			t.Fatalf("retry = %v, %v", again, err)
		}
	})
	t.Run("denied without consent", func(t *testing.T) {
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId()}, as(strangerTok))
		info := wantCode(t, err, codes.PermissionDenied)
		if info == nil || info.GetReason() != pep.ReasonDenied || !strings.Contains(info.GetMetadata()["reasons"], "no consent") {
			t.Fatalf("denial detail = %v", info)
		}
	})
	t.Run("no token", func(t *testing.T) {
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId()})
		wantCode(t, err, codes.Unauthenticated)
	})
	t.Run("a consent to one clinician does not let them file records", func(t *testing.T) {
		_, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: labResult(p.ID, "x")}, as(readerTok))
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "write needs a consent to organisation") {
			t.Fatalf("reasons = %q", info.GetMetadata()["reasons"])
		}
	})
	t.Run("invalid resource is refused", func(t *testing.T) {
		_, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: labResult("someone-else", "x")}, as(writerTok))
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("update links to the previous version", func(t *testing.T) {
		up, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId(),
			Resource: labResult(p.ID, marker+"-amended"), BaseVersion: 1}, as(writerTok))
		if err != nil {
			t.Fatal(err)
		}
		if up.GetRecord().GetVersion() != 2 || up.GetRecord().GetPreviousSha256() != sum {
			t.Fatalf("update = %v", up.GetRecord())
		}
		hist, err := h.grpc.GetRecordHistory(ctx, &recordsv1.GetRecordHistoryRequest{PatientId: p.ID, RecordId: rec.GetRecordId()}, as(readerTok))
		if err != nil || len(hist.GetVersions()) != 2 || hist.GetVersions()[1].GetPreviousSha256() != hist.GetVersions()[0].GetSha256() {
			t.Fatalf("history = %v, %v", hist, err)
		}
		list, err := h.grpc.ListRecords(ctx, &recordsv1.ListRecordsRequest{PatientId: p.ID}, as(readerTok))
		if err != nil || len(list.GetRecords()) != 1 || list.GetRecords()[0].GetVersion() != 2 {
			t.Fatalf("list = %v, %v", list, err)
		}
		_, err = h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId(),
			Resource: labResult(p.ID, "stale"), BaseVersion: 1}, as(writerTok))
		wantCode(t, err, codes.Aborted)
	})
	t.Run("verify is public and matches or not", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			req   *recordsv1.VerifyRecordRequest
			match bool
		}{
			{"the resource as filed", &recordsv1.VerifyRecordRequest{Resource: raw}, true},
			{"the resource, reformatted: another file", &recordsv1.VerifyRecordRequest{Resource: append([]byte("\n  "), raw...)}, false},
			{"the hash, against the record", &recordsv1.VerifyRecordRequest{RecordId: rec.GetRecordId(), Sha256: sum}, true},
			{"an altered resource", &recordsv1.VerifyRecordRequest{Resource: labResult(p.ID, marker+"-forged")}, false},
			{"an altered resource, against the record", &recordsv1.VerifyRecordRequest{RecordId: rec.GetRecordId(), Resource: labResult(p.ID, marker+"-forged")}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := h.grpc.VerifyRecord(ctx, tc.req) // no token
				if err != nil {
					t.Fatal(err)
				}
				if got.GetMatch() != tc.match {
					t.Fatalf("verify = %v, want match %v", got, tc.match)
				}
				if tc.match && (len(got.GetMatches()) != 1 || got.GetMatches()[0].GetVersion() != 1 || got.GetMatches()[0].GetNotarizedAt() == "") {
					t.Fatalf("matching versions = %v", got.GetMatches())
				}
				// Public: nothing says whose record it is.
				raw, _ := protojson.Marshal(got)
				for _, secret := range []string{p.ID, "labs", writer, "ProvidersMSP"} {
					if strings.Contains(string(raw), secret) {
						t.Fatalf("the public answer %s names %q", raw, secret)
					}
				}
			})
		}
	})
	t.Run("a flipped byte in MinIO is a tamper alarm", func(t *testing.T) {
		original := h.readObject(ctx, t, key)
		flipped := bytes.Clone(original)
		flipped[len(flipped)/2] ^= 0x01
		h.writeObject(ctx, t, key, flipped)
		defer h.writeObject(ctx, t, key, original)
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId(), Version: 1}, as(readerTok))
		if info := wantCode(t, err, codes.DataLoss); info.GetReason() != reasonTampered {
			t.Fatalf("detail = %v", info)
		}
		if !strings.Contains(h.logs.String(), "TAMPER ALARM") {
			t.Error("no tamper alarm in the service log")
		}
		page, err := h.ledger.AccessEvents(ctx, p.ID, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range page.Items {
			found = found || (e.Actor == serviceActor && e.ActorRole == ledgerapi.RoleService && e.Decision == ledgerapi.DecisionDeny &&
				slices.Contains(e.ReasonCodes, "tamper-detected") && e.Resource == "record/"+rec.GetRecordId() && e.RecordedBy == "ProvidersMSP")
		}
		if !found {
			t.Fatalf("no tamper alarm among the patient's access events: %+v", page.Items)
		}
	})
	t.Run("the restored object reads again", func(t *testing.T) {
		if _, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId(), Version: 1}, as(readerTok)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an object moved to another patient fails to open", func(t *testing.T) {
		other := itest.NewPatient(t, h.consent)
		h.consent.Grant(t, other, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
		otherRaw := labResult(other.ID, "other")
		own, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: other.ID, Resource: otherRaw}, as(writerTok))
		if err != nil {
			t.Fatal(err)
		}
		otherKey := recordstore.VersionKey(other.ID, own.GetRecord().GetRecordId(), 1, own.GetRecord().GetSha256())
		h.writeObject(ctx, t, otherKey, h.readObject(ctx, t, key)) // alice's sealed bytes under bob's record
		_, err = h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: other.ID, RecordId: own.GetRecord().GetRecordId()}, as(other.Token))
		wantCode(t, err, codes.DataLoss)
	})
	t.Run("after revoke the next fetch is denied", func(t *testing.T) {
		if _, err := h.consent.CLI(t, p.Token, p.Key, "revoke", readConsent); err != nil {
			t.Fatal(err)
		}
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId()}, as(readerTok))
		info := wantCode(t, err, codes.PermissionDenied)
		if !strings.Contains(info.GetMetadata()["reasons"], "revoked") {
			t.Fatalf("reasons = %q", info.GetMetadata()["reasons"])
		}
		list, err := h.grpc.ListRecords(ctx, &recordsv1.ListRecordsRequest{PatientId: p.ID}, as(readerTok))
		if err != nil || len(list.GetRecords()) != 0 || list.GetWithheld() != 1 {
			t.Fatalf("list after revoke = %v, %v; want everything withheld", list, err)
		}
	})
	t.Run("MinIO killed during a put: clean failure, retry without duplicates", func(t *testing.T) {
		q := itest.NewPatient(t, h.consent)
		h.consent.Grant(t, q, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
		req := &recordsv1.PutRecordRequest{PatientId: q.ID, Resource: labResult(q.ID, "crash"), IdempotencyKey: "crash-1"}
		h.hooks.beforeObjectPut = func() {
			if err := store.Kill(); err != nil {
				t.Errorf("killing MinIO: %v", err)
			}
		}
		_, err := h.grpc.PutRecord(ctx, req, as(writerTok))
		h.hooks.beforeObjectPut = nil
		wantCode(t, err, codes.Unavailable)
		page, lerr := h.ledger.RecordsByPatient(ctx, q.ID, 10, "")
		if lerr != nil || len(page.Items) != 0 {
			t.Fatalf("ledger after the failed put: %+v, %v; want nothing notarized", page, lerr)
		}
		if err := store.Start(); err != nil {
			t.Fatal(err)
		}
		if keys := h.objectKeys(ctx, t, q.ID+"/"); len(keys) != 1 || !recordstore.IsIdempotencyKey(keys[0]) {
			t.Fatalf("objects after the failed put: %q, want only its plan", keys)
		}
		first, err := h.grpc.PutRecord(ctx, req, as(writerTok))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		second, err := h.grpc.PutRecord(ctx, req, as(writerTok))
		if err != nil || !second.GetReplayed() || second.GetRecord().GetRecordId() != first.GetRecord().GetRecordId() {
			t.Fatalf("second retry = %v, %v", second, err)
		}
		list, err := h.grpc.ListRecords(ctx, &recordsv1.ListRecordsRequest{PatientId: q.ID}, as(q.Token))
		if err != nil || len(list.GetRecords()) != 1 {
			t.Fatalf("list = %v, %v; want exactly one record", list, err)
		}
		var versions []string
		for _, k := range h.objectKeys(ctx, t, q.ID+"/") {
			if !recordstore.IsIdempotencyKey(k) {
				versions = append(versions, k)
			}
		}
		if len(versions) != 1 {
			t.Fatalf("stored versions = %q, want one", versions)
		}
	})
	t.Run("erasure makes the records unreadable", func(t *testing.T) {
		e := itest.NewPatient(t, h.consent)
		h.consent.Grant(t, e, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
		own, err := h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: e.ID, Resource: labResult(e.ID, "erase-me")}, as(writerTok))
		if err != nil {
			t.Fatal(err)
		}
		ownKey := recordstore.VersionKey(e.ID, own.GetRecord().GetRecordId(), 1, own.GetRecord().GetSha256())
		sealedCopy := h.readObject(ctx, t, ownKey) // as a backup or a thief would keep it
		key := loadKey(t, e)
		request := signErasure(t, key, "erase-"+e.ID)
		erase := func(tok string, patientID string, signed *recordsv1.SignedErasure) (*recordsv1.ErasePatientRecordsResponse, error) {
			return h.grpc.ErasePatientRecords(ctx, &recordsv1.ErasePatientRecordsRequest{PatientId: patientID, Erasure: signed}, as(tok))
		}
		t.Run("a hospital cannot erase a patient, even relaying their signed request", func(t *testing.T) {
			_, err := erase(writerTok, e.ID, request)
			wantCode(t, err, codes.PermissionDenied)
		})
		t.Run("the patient's token alone erases nothing", func(t *testing.T) {
			_, err := erase(e.Token, e.ID, nil)
			wantCode(t, err, codes.InvalidArgument)
		})
		t.Run("a request signed by another key is refused by the ledger", func(t *testing.T) {
			thief, err := patientkey.Generate(e.ID)
			if err != nil {
				t.Fatal(err)
			}
			thief.SetNonce(uint64(time.Now().UnixMicro()))
			_, err = erase(e.Token, e.ID, signErasure(t, thief, "erase-thief"))
			wantCode(t, err, codes.PermissionDenied)
		})
		t.Run("another patient's signed request does not erase this one", func(t *testing.T) {
			other := itest.NewPatient(t, h.consent)
			_, err := erase(e.Token, e.ID, signErasure(t, loadKey(t, other), "erase-other"))
			wantCode(t, err, codes.PermissionDenied)
		})
		if keys := h.objectKeys(ctx, t, e.ID+"/"); len(keys) == 0 {
			t.Fatal("a refused erasure deleted objects")
		}
		erased, err := erase(e.Token, e.ID, request)
		if err != nil || erased.GetObjectsDeleted() != 1 || erased.GetTxId() == "" || erased.GetRequestTxId() == "" {
			t.Fatalf("erase = %v, %v", erased, err)
		}
		if keys := h.objectKeys(ctx, t, e.ID+"/"); len(keys) != 0 {
			t.Fatalf("objects left after erasure: %q", keys)
		}
		onLedger, err := h.ledger.Erasure(ctx, e.ID)
		if err != nil || onLedger.Status != ledgerapi.ErasureCompleted || onLedger.Counts.RecordObjects != 1 || onLedger.RequestedBy != "ProvidersMSP" {
			t.Fatalf("ledger erasure = %+v, %v", onLedger, err)
		}
		again, err := erase(e.Token, e.ID, request)
		if err != nil || again.GetTxId() != erased.GetTxId() {
			t.Fatalf("resending the request = %v, %v; want the same completed erasure", again, err)
		}
		_, err = h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: e.ID, RecordId: own.GetRecord().GetRecordId()}, as(e.Token))
		if st := status.Convert(err); st.Code() != codes.NotFound && st.Code() != codes.PermissionDenied {
			t.Fatalf("get after erasure = %v, want not found (erased) or denied (erased)", err)
		}
		// Even a copy of the sealed bytes kept elsewhere no longer opens.
		if _, err := mustVault(t, h.daemon).Open(ctx, e.ID, ownKey, sealedCopy); !errors.Is(err, vault.ErrErased) {
			t.Fatalf("opening a copy after erasure: %v, want vault.ErrErased", err)
		}
	})
	t.Run("break-glass: the patient is told before the bytes, and no bytes if the service dies in between", func(t *testing.T) {
		er := itest.Unique("dr-er")
		erTok := itest.Token(t, er, auth.RoleClinician, "StMarysMSP")
		feed := consentv1.NewConsentServiceClient(itest.Dial(t, h.consent.GRPCAddr, "app-patient"))
		told := func() int {
			resp, err := feed.ListNotifications(ctx, &consentv1.ListNotificationsRequest{PageSize: 500}, as(p.Token))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, note := range resp.GetNotifications() {
				if note.GetKind() == "break-glass" && note.GetActor() == er && note.GetBreakGlassReason() == "found unconscious, labs needed" {
					n++
				}
			}
			return n
		}
		req := &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId(), Purpose: "emergency", BreakGlassReason: "found unconscious, labs needed"}
		toldBefore := -1
		h.hooks.afterAuthorize = func() error {
			toldBefore = told()
			return errors.New("the records service died after the decision")
		}
		got, err := h.grpc.GetRecord(ctx, req, as(erTok))
		h.hooks.afterAuthorize = nil
		if err == nil || len(got.GetResource()) > 0 {
			t.Fatalf("the service died after the decision, yet it answered %v, %v", got, err)
		}
		if toldBefore != 1 {
			t.Fatalf("when the decision came back, the patient had %d break-glass notifications of %s, want 1: no bytes may leave before it", toldBefore, er)
		}
		got, err = h.grpc.GetRecord(ctx, req, as(erTok))
		if err != nil || len(got.GetResource()) == 0 || !slices.Contains(got.GetObligations(), "notify-patient") {
			t.Fatalf("break-glass read: %v, %v", got, err)
		}
		if n := told(); n != 2 {
			t.Fatalf("%d notifications after two break-glass reads, want one each", n)
		}
	})
	t.Run("consent service down: nothing is served", func(t *testing.T) {
		h.consent.Stop()
		_, err := h.grpc.GetRecord(ctx, &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: rec.GetRecordId()}, as(writerTok))
		wantCode(t, err, codes.Unavailable)
		_, err = h.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: labResult(p.ID, "while down")}, as(writerTok))
		wantCode(t, err, codes.Unavailable)
	})
}

// loadKey reads an itest patient's key file.
func loadKey(t *testing.T, p itest.Patient) *patientkey.Key {
	t.Helper()
	k, err := patientkey.Load(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signErasure signs a patient.erase request with k, above the clock's nonce.
func signErasure(t *testing.T, k *patientkey.Key, erasureID string) *recordsv1.SignedErasure {
	t.Helper()
	k.SetNonce(uint64(time.Now().UnixMicro()))
	s, err := k.Erase(erasureID)
	if err != nil {
		t.Fatal(err)
	}
	return &recordsv1.SignedErasure{Payload: s.Payload, Signature: s.Signature}
}

// mustVault opens the service's vault (the shared development key store).
func mustVault(t *testing.T, cfg daemon.Config) *vault.Vault {
	t.Helper()
	v, err := vault.OpenFiles(cfg.Backends.KEKFile, cfg.Backends.KeyDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}
