//go:build integration

package research_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"healthexchange/chaincode/ledgerapi"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/domain/patientkey"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/vault"
	"healthexchange/services/research"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
	"healthexchange/wearables/mhealth"
)

// These tests run researchd as a real process against the real test network,
// the real policies and a private MinIO. The patients' data is put where the
// records and ingest services put it (their archives, the same vault, the
// hash notarized on the ledger), and the patients sign their consents with
// their own keys.

var (
	researchdBin string
	store        *itest.MinIO
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	bin, cleanup, err := itest.Build("healthexchange/services/cmd/researchd")
	if err != nil {
		fmt.Fprintln(os.Stderr, "research integration: building researchd:", err)
		return 1
	}
	defer cleanup()
	researchdBin = bin
	if store, err = itest.StartMinIO(); err != nil {
		fmt.Fprintln(os.Stderr, "research integration: private MinIO:", err)
		return 1
	}
	defer store.Close()
	return m.Run()
}

// world is the ledger as both organisations, the shared vault, the records
// and wearables buckets, and a running researchd with a client.
type world struct {
	providers, research *ledger.Client
	records             *recordstore.Archive
	readings            *readingstore.Archive
	datasets            *objectstore.Bucket
	client              researchv1.ResearchServiceClient
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := itest.Context(t)
	env := itest.Env(t)
	w := &world{}
	for org, c := range map[string]**ledger.Client{"providers": &w.providers, "research": &w.research} {
		cfg, err := env.Ledger(org)
		if err != nil {
			t.Fatal(err)
		}
		if *c, err = ledger.Dial(cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*c).Close() })
	}
	v, err := vault.OpenFiles(env.Vault.KEK, env.Vault.Keys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	cfg, err := objectstore.ConfigFromFile(store.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	bucket := func(name string) *objectstore.Bucket {
		b, err := objectstore.OpenBucket(ctx, cfg, name, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	w.records, w.readings, w.datasets = recordstore.NewArchive(bucket("records"), v), readingstore.NewArchive(bucket("wearables"), v), bucket("datasets")

	addr := itest.FreeAddr(t)
	itest.StartDaemon(t, researchdBin, []string{"-env", env.Path, "-store-config", store.ConfigPath(),
		"-grpc", addr, "-http", itest.FreeAddr(t), "-state", t.TempDir()}, addr)
	w.client = researchv1.NewResearchServiceClient(itest.Dial(t, addr, "app-researcher"))
	return w
}

// person is a seeded patient: their key, and values only they have, which
// must never appear in a dataset (identifiers) or must appear only while
// they consent (their lab value).
type person struct {
	key        *patientkey.Key
	name       string
	phone      string
	hba1c      string
	research   string // consent id of their research consent, "" for none
	demoRecord string
}

// seed registers a patient, stores their Patient resource and an HbA1c
// Observation (notarized), one hour of heart-rate readings, and grants
// research consents to the given grantees.
func (w *world) seed(ctx context.Context, t *testing.T, n int, birth, sex, zip, hba1c string, grantees ...ledgerapi.Grantee) *person {
	t.Helper()
	k, err := patientkey.Generate(itest.Unique(fmt.Sprintf("rp%d", n)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.providers.RegisterPatient(ctx, must(k.Register())); err != nil {
		t.Fatal(err)
	}
	p := &person{key: k, name: fmt.Sprintf("Zyxwell%dson", n), phone: fmt.Sprintf("617-555-%04d", 1000+n), hba1c: hba1c}
	patient := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q,"given":["Quentin"]}],"telecom":[{"system":"phone","value":%q}],
		"identifier":[{"system":"urn:mrn","value":"MRN-%s"}],"gender":%q,"birthDate":%q,"address":[{"line":["%d Elm Street"],"postalCode":%q}]}`,
		p.name, p.phone, k.PatientID(), sex, birth, n, zip)
	lab := fmt.Sprintf(`{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/%s"},
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2026-06-%02dT09:00:00Z",
		"valueQuantity":{"value":%s,"unit":"%%"},"note":[{"text":"%s called from %s"}]}`, k.PatientID(), n, hba1c, p.name, p.phone)
	// The hospital that files the records needs the patient's consent to
	// file them (treatment); it lets no study read anything.
	if _, err := w.providers.GrantConsent(ctx, must(k.Grant(ledgerapi.ConsentGrant{
		ConsentID: itest.Unique(fmt.Sprintf("file%d", n)), Grantee: ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ProvidersMSP},
		Categories: []string{"demographics", "labs"}, Purposes: []string{"treatment"},
	}))); err != nil {
		t.Fatal(err)
	}
	p.demoRecord = w.store(ctx, t, k.PatientID(), "demographics", patient)
	w.store(ctx, t, k.PatientID(), "labs", lab)

	// One device, one hour of heart rate at 1 Hz in the window, in 60 batches.
	_, devKey, _ := ed25519.GenerateKey(nil)
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for b := range 60 {
		rs := make([]mhealth.Reading, 60)
		for i := range rs {
			rs[i] = mhealth.NewHeartRate(float64(60+n), start.Add(time.Duration(b*60+i)*time.Second))
		}
		sb, err := mhealth.Sign(devKey, mhealth.Batch{DeviceID: "watch-" + k.PatientID(), PatientID: k.PatientID(), Seq: uint64(b + 1), Readings: rs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.readings.StoreSigned(ctx, sb.Payload, sb.Signature, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range grantees {
		c, err := w.providers.GrantConsent(ctx, must(k.Grant(ledgerapi.ConsentGrant{
			ConsentID: itest.Unique(fmt.Sprintf("rc%d-%d", n, i)), Grantee: g,
			Categories: []string{"demographics", "labs", "vitals"}, Purposes: []string{ledgerapi.PurposeResearch},
		})))
		if err != nil {
			t.Fatal(err)
		}
		p.research = c.ConsentID
	}
	return p
}

// store puts a resource where the records service would, and notarizes it.
func (w *world) store(ctx context.Context, t *testing.T, patientID, category, resource string) string {
	t.Helper()
	sum := fhir.Digest([]byte(resource))
	n := ledgerapi.Notarization{RecordID: itest.Unique("rec"), PatientID: patientID, SHA256: sum, Category: category, Version: 1}
	if err := w.records.StoreVerbatim(ctx, n, []byte(resource)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.providers.Notarize(ctx, n); err != nil {
		t.Fatal(err)
	}
	return n.RecordID
}

func must(s ledger.Signed, err error) ledger.Signed {
	if err != nil {
		panic(err)
	}
	return s
}

func as(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func labSpec(study string) *researchv1.DatasetSpec {
	return &researchv1.DatasetSpec{StudyId: study, Categories: []string{"labs", "vitals"},
		From: "2026-01-01T00:00:00Z", To: "2026-12-31T00:00:00Z", K: 2}
}

// released creates a dataset and waits for its release.
func (w *world) released(ctx context.Context, t *testing.T, tok string, spec *researchv1.DatasetSpec) *researchv1.Dataset {
	t.Helper()
	resp, err := w.client.CreateDataset(as(ctx, tok), &researchv1.CreateDatasetRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDataset().GetDatasetId()
	for {
		got, err := w.client.GetDataset(as(ctx, tok), &researchv1.GetDatasetRequest{DatasetId: id})
		if err != nil {
			t.Fatal(err)
		}
		switch got.GetDataset().GetState() {
		case researchv1.DatasetState_DATASET_STATE_RELEASED:
			return got.GetDataset()
		case researchv1.DatasetState_DATASET_STATE_FAILED:
			t.Fatalf("dataset %s failed: %s", id, got.GetDataset().GetError())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dataset %s not released: %v", id, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// download streams one file through the service.
func (w *world) download(ctx context.Context, t *testing.T, tok, id, file string) []byte {
	t.Helper()
	stream, err := w.client.DownloadDataset(as(ctx, tok), &researchv1.DownloadDatasetRequest{DatasetId: id, File: file})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return buf.Bytes()
		}
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(chunk.GetChunk())
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestDatasetFromConsentingPatients(t *testing.T) {
	ctx := itest.Context(t)
	w := newWorld(t)
	study := itest.Unique("study")
	general := ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP}
	forStudy := ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: study}
	// Five consent to research (in general or for this study), one to
	// another study only, one not at all. Ages: two over 89.
	consenting := []*person{
		w.seed(ctx, t, 1, "1958-03-02", "female", "02139", "6.11", general),
		w.seed(ctx, t, 2, "1961-07-19", "female", "02141", "6.12", forStudy),
		w.seed(ctx, t, 3, "1932-01-30", "male", "02138", "6.13", general),
		w.seed(ctx, t, 4, "1930-11-11", "male", "02139", "6.14", forStudy),
		w.seed(ctx, t, 5, "1960-05-05", "female", "02142", "6.15", general, forStudy),
	}
	others := []*person{
		w.seed(ctx, t, 6, "1975-02-02", "male", "02139", "9.16", ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: study + "-other"}),
		w.seed(ctx, t, 7, "1980-08-08", "female", "02139", "9.17"),
	}
	tok := itest.StudyToken(t, itest.Unique("res-carol"), auth.Role("researcher"), ledgerapi.ResearchMSP, study)

	d := w.released(ctx, t, tok, labSpec(study))
	m := d.GetManifest()
	csvBytes := w.download(ctx, t, tok, d.GetDatasetId(), research.FileCSV)
	manifest := w.download(ctx, t, tok, d.GetDatasetId(), research.FileManifest)
	rows, err := research.ReadCSV(bytes.NewReader(csvBytes))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("exactly the consenting patients", func(t *testing.T) {
		// The cohort may hold patients of other tests consenting to
		// research in general; this test's are told apart by their values.
		pseudonyms := map[string]bool{}
		for _, r := range rows {
			if r["category"] == "labs" {
				pseudonyms[r["pseudonym"]] = true
			}
		}
		text := string(csvBytes)
		for _, p := range consenting {
			if !strings.Contains(text, ","+p.hba1c+",") {
				t.Errorf("the lab value of consenting patient %s is missing", p.key.PatientID())
			}
		}
		for _, p := range others {
			if strings.Contains(text, ","+p.hba1c+",") {
				t.Errorf("the lab value of patient %s, who gave no research consent for this study, is in the file", p.key.PatientID())
			}
		}
		if int(m.GetPatientsReleased()) != len(pseudonyms) || m.GetCohortSize() < int32(len(consenting)) {
			t.Fatalf("manifest: %d released, cohort %d; the file has %d patients with labs", m.GetPatientsReleased(), m.GetCohortSize(), len(pseudonyms))
		}
	})

	t.Run("independent check: every quasi-identifier group has k patients, no identifier", func(t *testing.T) {
		groups := map[string]map[string]bool{}
		for _, r := range rows {
			key := r["age_band"] + "|" + r["sex"] + "|" + r["zip3"]
			if groups[key] == nil {
				groups[key] = map[string]bool{}
			}
			groups[key][r["pseudonym"]] = true
			if r["age_band"] == "" || r["sex"] == "" || r["zip3"] == "" {
				t.Fatalf("a row without its quasi-identifiers: %v", r)
			}
			if regexp.MustCompile(`^9[0-9]$|^1[0-9][0-9]$`).MatchString(r["age_band"]) {
				t.Fatalf("an exact age over 89: %v", r)
			}
			if len(r["zip3"]) != 3 && r["zip3"] != "*" {
				t.Fatalf("a ZIP that is not 3 digits: %v", r)
			}
			if d := r["date"]; d != "" && !regexp.MustCompile(`^\d{4}$`).MatchString(d) {
				t.Fatalf("a date that is not a year: %v", r)
			}
		}
		for key, g := range groups {
			if len(g) < 2 {
				t.Fatalf("group %s has %d patients, k = 2", key, len(g))
			}
		}
		text := string(csvBytes) + string(w.download(ctx, t, tok, d.GetDatasetId(), research.FileNDJSON))
		for _, p := range append(consenting, others...) {
			for _, ident := range []string{p.key.PatientID(), p.name, p.phone, "Elm Street", "MRN-", "Quentin", "1958-03-02", "1930"} {
				if strings.Contains(text, ident) {
					t.Fatalf("the files hold %q", ident)
				}
			}
		}
		if header := strings.SplitN(string(csvBytes), "\n", 2)[0]; header != "pseudonym,age_band,sex,zip3,source,category,code,value,unit,date,time_of_day,count,min,max,mean" {
			t.Fatalf("header %q", header)
		}
	})

	t.Run("the ledger's release is the manifest's hash, which binds the files", func(t *testing.T) {
		rel, err := w.providers.DatasetRelease(ctx, d.GetDatasetId())
		if err != nil {
			t.Fatal(err)
		}
		if rel.SHA256 != sha(manifest) || rel.SHA256 != d.GetReleaseSha256() || rel.StudyID != study || rel.K != 2 ||
			rel.CohortSize != int(m.GetCohortSize()) || rel.ConsentSetSHA256 != m.GetConsentSetSha256() {
			t.Fatalf("ledger %+v; manifest sha256 %s, manifest %v", rel, sha(manifest), m)
		}
		var stored researchv1.Manifest
		if err := protojson.Unmarshal(manifest, &stored); err != nil {
			t.Fatal(err)
		}
		for _, f := range stored.GetFiles() {
			if f.GetName() == research.FileCSV && f.GetSha256() != sha(csvBytes) {
				t.Fatalf("manifest says csv %s, the file hashes to %s", f.GetSha256(), sha(csvBytes))
			}
		}
	})

	t.Run("presigned URL serves the same bytes", func(t *testing.T) {
		u, err := w.client.GetDownloadUrl(as(ctx, tok), &researchv1.GetDownloadUrlRequest{DatasetId: d.GetDatasetId(), File: research.FileCSV})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.GetUrl())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(b, csvBytes) || u.GetSha256() != sha(csvBytes) {
			t.Fatalf("presigned download: %s, %d bytes", resp.Status, len(b))
		}
	})

	t.Run("a revoke excludes the patient from the next dataset, not from the released one", func(t *testing.T) {
		gone := consenting[0]
		if _, err := w.providers.RevokeConsent(ctx, must(gone.key.Revoke(gone.research))); err != nil {
			t.Fatal(err)
		}
		d2 := w.released(ctx, t, tok, labSpec(study))
		csv2 := w.download(ctx, t, tok, d2.GetDatasetId(), research.FileCSV)
		if strings.Contains(string(csv2), ","+gone.hba1c+",") {
			t.Fatal("the revoked patient's data is in the next dataset")
		}
		for _, p := range consenting[1:] {
			if !strings.Contains(string(csv2), ","+p.hba1c+",") {
				t.Fatalf("patient %s is missing from the next dataset", p.key.PatientID())
			}
		}
		if again := w.download(ctx, t, tok, d.GetDatasetId(), research.FileCSV); !bytes.Equal(again, csvBytes) {
			t.Fatal("the released file changed")
		}
		if d2.GetManifest().GetCohortSize() != m.GetCohortSize()-1 {
			t.Fatalf("cohort %d after the revoke, %d before", d2.GetManifest().GetCohortSize(), m.GetCohortSize())
		}
	})
}

func TestDatasetAccess(t *testing.T) {
	ctx := itest.Context(t)
	w := newWorld(t)
	study := itest.Unique("study")
	spec := labSpec(study)
	tests := map[string]struct {
		tok  string
		code codes.Code
	}{
		"no token": {"", codes.Unauthenticated},
		"a clinician's token, made for other services": {itest.Token(t, "dr-x", auth.Role("clinician"), ledgerapi.ProvidersMSP), codes.Unauthenticated},
		"a clinician, even with a token for research": {itest.IssuedToken(t, ledgerapi.ProvidersMSP, devissuer.Claims{Subject: "dr-x",
			Audiences: []string{devenv.Audience("research")}, Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP}), codes.PermissionDenied},
		"a researcher of another study": {itest.StudyToken(t, "res-y", auth.Role("researcher"), ledgerapi.ResearchMSP, study+"-b"), codes.PermissionDenied},
		"a researcher minted by a hospital's identity provider": {itest.IssuedToken(t, ledgerapi.StMarysMSP, devissuer.Claims{Subject: "res-z",
			Audiences: []string{devenv.Audience("research")}, Role: auth.RoleResearcher, Org: ledgerapi.StMarysMSP, StudyID: study}), codes.Unauthenticated},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := ctx
			if tc.tok != "" {
				c = as(ctx, tc.tok)
			}
			_, err := w.client.CreateDataset(c, &researchv1.CreateDatasetRequest{Spec: spec})
			if status.Code(err) != tc.code {
				t.Fatalf("create: %v, want %v", err, tc.code)
			}
		})
	}
	t.Run("a cohort smaller than k fails and leaves no file", func(t *testing.T) {
		tok := itest.StudyToken(t, itest.Unique("res"), auth.Role("researcher"), ledgerapi.ResearchMSP, study)
		s := labSpec(study)
		s.K = 1000
		resp, err := w.client.CreateDataset(as(ctx, tok), &researchv1.CreateDatasetRequest{Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		id := resp.GetDataset().GetDatasetId()
		for {
			got, err := w.client.GetDataset(as(ctx, tok), &researchv1.GetDatasetRequest{DatasetId: id})
			if err != nil {
				t.Fatal(err)
			}
			if st := got.GetDataset().GetState(); st == researchv1.DatasetState_DATASET_STATE_FAILED {
				if !strings.Contains(got.GetDataset().GetError(), "smaller than k") {
					t.Fatalf("failed with %q", got.GetDataset().GetError())
				}
				break
			} else if st == researchv1.DatasetState_DATASET_STATE_RELEASED {
				t.Fatal("released with k = 1000")
			}
			time.Sleep(200 * time.Millisecond)
		}
		keys, err := w.datasets.List(ctx, id+"/")
		if err != nil || len(keys) != 1 || keys[0] != id+"/status.json" {
			t.Fatalf("objects of the failed dataset: %v %v", keys, err)
		}
		if _, err := w.client.GetDownloadUrl(as(ctx, tok), &researchv1.GetDownloadUrlRequest{DatasetId: id, File: "csv"}); status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("download of a failed dataset: %v", err)
		}
		other := itest.StudyToken(t, itest.Unique("res-other"), auth.Role("researcher"), ledgerapi.ResearchMSP, study)
		if _, err := w.client.GetDataset(as(ctx, other), &researchv1.GetDatasetRequest{DatasetId: id}); status.Code(err) != codes.NotFound {
			t.Fatalf("another researcher's dataset: %v, want NotFound", err)
		}
	})
}
