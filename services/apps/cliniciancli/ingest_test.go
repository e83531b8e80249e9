package cliniciancli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/domain/merkle"
	"healthexchange/wearables/mhealth"
)

const ingestDenial = `{"code":7,"message":"access denied: no active consent for vitals","details":[` +
	`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_DENIED","domain":"ingest.healthexchange",` +
	`"metadata":{"reasons":"no active consent for vitals"}}]}`

// fakeIngest answers the ingest gateway's routes with what a test set, and
// keeps what it was sent. Patient pat-denied is refused, as without consent.
type fakeIngest struct {
	mu       sync.Mutex
	calls    []sent
	readings *ingestv1.ReadReadingsResponse
	proof    *ingestv1.GetProofResponse
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, sent{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.URL.Query(), nil})
	readings, proof := f.readings, f.proof
	f.mu.Unlock()
	var answer proto.Message
	switch {
	case r.Method != "GET":
	case strings.HasPrefix(r.URL.Path, "/v1/patients/pat-denied/"):
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, ingestDenial)
		return
	case r.URL.Path == "/v1/patients/pat-1/readings" && readings != nil:
		answer = readings
	case strings.HasPrefix(r.URL.Path, "/v1/patients/pat-1/readings/") && strings.HasSuffix(r.URL.Path, "/proof") && proof != nil:
		answer = proof
	}
	if answer == nil {
		http.NotFound(w, r)
		return
	}
	out, _ := protojson.Marshal(answer)
	w.Write(out)
}

func (f *fakeIngest) set(readings *ingestv1.ReadReadingsResponse, proof *ingestv1.GetProofResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readings, f.proof = readings, proof
}

func (f *fakeIngest) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.calls...)
}

type ingestFixture struct {
	gw  *fakeIngest
	url string
	ca  string
	now time.Time
}

func newIngestFixture(t *testing.T) *ingestFixture {
	t.Helper()
	f := &ingestFixture{gw: &fakeIngest{}, now: time.Date(2026, 3, 4, 12, 0, 0, 500_000_000, time.UTC)}
	server := httptest.NewTLSServer(f.gw)
	t.Cleanup(server.Close)
	f.url = server.URL
	f.ca = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// run runs the CLI against the fixture's ingest gateway and CA, its clock
// at f.now; the token comes from the arguments or HX_TOKEN.
func (f *ingestFixture) run(t *testing.T, args ...string) result {
	t.Helper()
	full := append([]string{args[0], "--ingest-server", f.url, "--ca", f.ca}, args[1:]...)
	return f.runArgs(t, full...)
}

// runArgs runs the CLI with exactly args.
func (f *ingestFixture) runArgs(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	o := &opts{in: strings.NewReader(""), out: &out, errOut: &errOut, now: func() time.Time { return f.now }}
	code := o.app().Run(ctx, args, &errOut)
	if strings.Contains(out.String()+errOut.String(), "tok-secret") {
		t.Fatal("the bearer token was printed")
	}
	return result{code, out.String(), errOut.String()}
}

// lastCall is the fixture's last request, failing if there was none.
func (f *ingestFixture) lastCall(t *testing.T) sent {
	t.Helper()
	calls := f.gw.sent()
	if len(calls) == 0 {
		t.Fatal("nothing sent")
	}
	return calls[len(calls)-1]
}

var t0 = time.Date(2026, 3, 4, 11, 30, 0, 0, time.UTC)

func someReadings(truncated bool) *ingestv1.ReadReadingsResponse {
	return &ingestv1.ReadReadingsResponse{Truncated: truncated, Readings: []*ingestv1.Reading{
		{Kind: "heart-rate", Value: 72, Unit: "beats/min", Time: "2026-03-04T11:30:00Z", DeviceId: "watch-1", Seq: 3, Index: 0},
		{Kind: "blood-pressure", Value: 120, Diastolic: 80, Unit: "mmHg", Time: "2026-03-04T11:30:01Z", DeviceId: "watch-1", Seq: 3, Index: 1},
		{Kind: "body-temperature", Value: 36.8, Unit: "C", Time: "2026-03-04T11:31:00Z", DeviceId: "ring-2", Seq: 12, Index: 7},
	}}
}

func TestVitals(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newIngestFixture(t)
	tests := map[string]struct {
		args      []string
		truncated bool
		wantQuery map[string]string // "" for a parameter that must be absent
		wantLines [][]string        // the fields of the table's lines, header first
		wantOut   []string
		wantNot   []string
	}{
		"the last 24 hours by default": {
			args:      []string{"vitals", "--patient", "pat-1"},
			wantQuery: map[string]string{"from": "2026-03-03T12:00:00.5Z", "to": "2026-03-04T12:00:00.5Z", "kind": "", "limit": "", "purpose": ""},
			wantLines: [][]string{
				{"TIME", "KIND", "VALUE", "UNIT", "DEVICE", "SEQ", "INDEX"},
				{"2026-03-04T11:30:00Z", "heart-rate", "72", "beats/min", "watch-1", "3", "0"},
				{"2026-03-04T11:30:01Z", "blood-pressure", "120/80", "mmHg", "watch-1", "3", "1"},
				{"2026-03-04T11:31:00Z", "body-temperature", "36.8", "C", "ring-2", "12", "7"},
				{"3", "readings"},
			},
			wantNot: []string{"truncated"},
		},
		"--last 1h is the hour up to now": {
			args:      []string{"vitals", "--patient", "pat-1", "--last", "1h", "--kind", "heart-rate", "--purpose", "research"},
			wantQuery: map[string]string{"from": "2026-03-04T11:00:00.5Z", "to": "2026-03-04T12:00:00.5Z", "kind": "heart-rate", "purpose": "research"},
			wantOut:   []string{"3 readings"},
		},
		"--from alone reads up to now": {
			args:      []string{"vitals", "--patient", "pat-1", "--from", "2026-03-04T10:00:00+01:00"},
			wantQuery: map[string]string{"from": "2026-03-04T09:00:00Z", "to": "2026-03-04T12:00:00.5Z"},
			wantOut:   []string{"3 readings"},
		},
		"--from and --to": {
			args:      []string{"vitals", "--patient", "pat-1", "--from", "2026-03-01T00:00:00Z", "--to", "2026-03-02T00:00:00Z"},
			wantQuery: map[string]string{"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"},
			wantOut:   []string{"3 readings"},
		},
		"truncated says so": {
			args: []string{"vitals", "--patient", "pat-1", "--limit", "3"}, truncated: true,
			wantQuery: map[string]string{"limit": "3"},
			wantOut:   []string{"3 readings\n(truncated: more matched; raise --limit)\n"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f.gw.set(someReadings(tc.truncated), nil)
			r := f.run(t, tc.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.errOut)
			}
			call := f.lastCall(t)
			if call.method != "GET" || call.path != "/v1/patients/pat-1/readings" || call.auth != "Bearer tok-secret" {
				t.Fatalf("sent %+v", call)
			}
			for k, want := range tc.wantQuery {
				if got := strings.Join(call.query[k], ","); got != want {
					t.Errorf("query %s=%q, want %q (query %v)", k, got, want, call.query)
				}
			}
			if tc.wantLines != nil {
				lines := strings.Split(strings.TrimSuffix(r.out, "\n"), "\n")
				if len(lines) != len(tc.wantLines) {
					t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.wantLines), r.out)
				}
				for i, want := range tc.wantLines {
					if got := strings.Fields(lines[i]); strings.Join(got, "|") != strings.Join(want, "|") {
						t.Errorf("line %d is %q, want the fields %q", i, lines[i], want)
					}
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(r.out, w) {
					t.Errorf("output has %q:\n%s", w, r.out)
				}
			}
		})
	}

	t.Run("--json prints the answer", func(t *testing.T) {
		f.gw.set(someReadings(true), nil)
		r := f.run(t, "vitals", "--patient", "pat-1", "--json")
		var resp ingestv1.ReadReadingsResponse
		if err := protojson.Unmarshal([]byte(r.out), &resp); err != nil || r.code != 0 {
			t.Fatalf("exit %d, stdout %q (%v)", r.code, r.out, err)
		}
		if !proto.Equal(&resp, someReadings(true)) {
			t.Fatalf("printed %v, served %v", &resp, someReadings(true))
		}
	})
	t.Run("the server from HX_INGEST_URL", func(t *testing.T) {
		t.Setenv("HX_INGEST_URL", f.url)
		before := len(f.gw.sent())
		r := f.runArgs(t, "vitals", "--ca", f.ca, "--patient", "pat-1")
		if r.code != 0 || len(f.gw.sent()) != before+1 {
			t.Fatalf("exit %d, stderr %q: want one call to $HX_INGEST_URL", r.code, r.errOut)
		}
	})
	t.Run("a denial is shown", func(t *testing.T) {
		r := f.run(t, "vitals", "--patient", "pat-denied")
		if r.code != 1 || !strings.Contains(r.errOut, "access denied: no active consent for vitals (HTTP 403)") {
			t.Fatalf("exit %d, stderr %q; want 1 and the service's message", r.code, r.errOut)
		}
		if r.out != "" {
			t.Fatalf("stdout %q on a denial", r.out)
		}
	})
}

func TestIngestUsage(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newIngestFixture(t)
	tests := map[string][]string{
		"vitals without --patient":                {"vitals"},
		"vitals with an argument":                 {"vitals", "--patient", "pat-1", "heart-rate"},
		"vitals of an unknown kind":               {"vitals", "--patient", "pat-1", "--kind", "glucose"},
		"vitals --last and --from":                {"vitals", "--patient", "pat-1", "--last", "1h", "--from", "2026-03-04T00:00:00Z"},
		"vitals --to without --from":              {"vitals", "--patient", "pat-1", "--to", "2026-03-04T00:00:00Z"},
		"vitals --from not RFC 3339":              {"vitals", "--patient", "pat-1", "--from", "yesterday"},
		"vitals --from after --to":                {"vitals", "--patient", "pat-1", "--from", "2026-03-04T00:00:00Z", "--to", "2026-03-03T00:00:00Z"},
		"vitals over more than 7 days":            {"vitals", "--patient", "pat-1", "--from", "2026-02-01T00:00:00Z", "--to", "2026-03-01T00:00:00Z"},
		"vitals --last 0":                         {"vitals", "--patient", "pat-1", "--last", "0s"},
		"vitals --last above 7 days":              {"vitals", "--patient", "pat-1", "--last", "200h"},
		"vitals --limit above the service's":      {"vitals", "--patient", "pat-1", "--limit", "100001"},
		"vitals --server (the records service's)": {"vitals", "--patient", "pat-1", "--server", "https://127.0.0.1:27112"},
		"proof without --index":                   {"proof", "--patient", "pat-1", "--device", "watch-1", "--seq", "3"},
		"proof without --device":                  {"proof", "--patient", "pat-1", "--seq", "3", "--index", "0"},
		"proof of seq 0":                          {"proof", "--patient", "pat-1", "--device", "watch-1", "--seq", "0", "--index", "0"},
		"proof of a negative index":               {"proof", "--patient", "pat-1", "--device", "watch-1", "--seq", "3", "--index", "-1"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			if r := f.run(t, args...); r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.errOut)
			}
		})
	}
	if n := len(f.gw.sent()); n != 0 {
		t.Fatalf("usage errors sent %d requests", n)
	}
	t.Run("proof --help documents the exit codes", func(t *testing.T) {
		r := f.runArgs(t, "proof", "--help")
		if r.code != 0 || !strings.Contains(r.errOut, "Exit codes: 0 VERIFIED, 1 NOT VERIFIED") {
			t.Fatalf("exit %d, help:\n%s", r.code, r.errOut)
		}
	})
}

// signedProof is a real proof, as the ingest service would serve it, of
// reading index of batch 3 of device watch-1 of patient pat-1: a batch
// signed with a new Ed25519 key, as leaf 2 of a Merkle tree of 5 batches.
func signedProof(t *testing.T, index int) *ingestv1.GetProofResponse {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	batch := mhealth.Batch{DeviceID: "watch-1", PatientID: "pat-1", Seq: 3, Readings: []mhealth.Reading{
		mhealth.NewHeartRate(72, t0),
		mhealth.NewBloodPressure(121, 79, t0.Add(time.Second)),
		mhealth.NewStepCount(48, t0, t0.Add(time.Minute)),
	}}
	signed, err := mhealth.Sign(key, batch)
	if err != nil {
		t.Fatal(err)
	}
	const leaf, size = 2, 5
	leaves := make([]merkle.Hash, size)
	for i := range leaves {
		sum := sha256.Sum256(fmt.Appendf(nil, "another batch %d", i))
		leaves[i] = merkle.LeafHash(sum[:])
	}
	sum := sha256.Sum256(signed.Payload)
	leaves[leaf] = merkle.LeafHash(sum[:])
	tree, err := merkle.New(leaves)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tree.Proof(leaf)
	if err != nil {
		t.Fatal(err)
	}
	path := make([]string, len(p.Path))
	for i, h := range p.Path {
		path[i] = h.String()
	}
	r := batch.Readings[index]
	reading := &ingestv1.Reading{Kind: r.Kind.String(), Value: r.Value, Diastolic: r.Diastolic, Unit: r.Unit,
		DeviceId: "watch-1", Seq: 3, Index: int32(index)}
	if r.TimeFrame.IsInterval() {
		reading.Time, reading.EndTime = r.TimeFrame.Start.Format(time.RFC3339Nano), r.TimeFrame.End.Format(time.RFC3339Nano)
	} else {
		reading.Time = r.TimeFrame.At.Format(time.RFC3339Nano)
	}
	return &ingestv1.GetProofResponse{
		Reading: reading, Payload: signed.Payload, Signature: signed.Signature,
		DevicePublicKey: base64.StdEncoding.EncodeToString(pub), LeafIndex: leaf, Path: path,
		Anchor: &ingestv1.Anchor{AnchorId: "anchor-7", Root: tree.Root().String(), Size: size, Readings: 15,
			TxId: "tx-anchor-7", AnchoredAt: "2026-03-04T11:45:00Z"},
	}
}

func TestProof(t *testing.T) {
	t.Setenv("HX_TOKEN", "tok-secret")
	f := newIngestFixture(t)
	const verified = "VERIFIED: the reading is in the batch device watch-1 signed, and the batch is under the root anchored on the ledger in tx tx-anchor-7"
	tests := map[string]struct {
		index  int
		change func(p *ingestv1.GetProofResponse)
		code   int
		want   []string
	}{
		"a real proof verifies": {
			index: 1, code: 0,
			want: []string{"blood-pressure 121/79 mmHg at 2026-03-04T11:30:01Z", "device watch-1, batch 3, reading 1",
				"anchor-7", "5 batches (15 readings)", "tx-anchor-7", "2026-03-04T11:45:00Z", verified},
		},
		"a step count's interval verifies": {
			index: 2, code: 0, want: []string{"step-count 48 steps at 2026-03-04T11:30:00Z to 2026-03-04T11:31:00Z", verified},
		},
		"a byte of the payload flipped": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Payload[len(p.Payload)-1] ^= 1 }, code: 1,
			want: []string{"NOT VERIFIED: the batch is not the one device watch-1 signed"},
		},
		"another key": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.DevicePublicKey = signedProof(t, 1).GetDevicePublicKey() }, code: 1,
			want: []string{"NOT VERIFIED: the batch is not the one device watch-1 signed"},
		},
		"a wrong root": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Anchor.Root = strings.Repeat("ab", 32) }, code: 1,
			want: []string{"NOT VERIFIED: the batch is not under the root of anchor anchor-7"},
		},
		"a tree size the path does not fit": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Anchor.Size = 9 }, code: 1,
			want: []string{"NOT VERIFIED: the batch is not under the root of anchor anchor-7"},
		},
		"a reading other than the signed one": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Reading.Value = 135 }, code: 1,
			want: []string{"NOT VERIFIED: the reading returned is not the one device watch-1 signed: returned blood-pressure 135/79 mmHg",
				"signed blood-pressure 121/79 mmHg"},
		},
		"a reading at another time": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Reading.Time = "2026-03-04T11:30:02Z" }, code: 1,
			want: []string{"NOT VERIFIED: the reading returned is not the one device watch-1 signed"},
		},
		"another reading of the batch": {
			index: 1, change: func(p *ingestv1.GetProofResponse) { p.Reading = signedProof(t, 0).GetReading() }, code: 1,
			want: []string{"NOT VERIFIED: the service returned reading 0 of batch 3"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := signedProof(t, tc.index)
			if tc.change != nil {
				tc.change(p)
			}
			f.gw.set(nil, p)
			r := f.run(t, "proof", "--patient", "pat-1", "--device", "watch-1", "--seq", "3", "--index", fmt.Sprint(tc.index), "--purpose", "treatment")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr: %s", r.code, tc.code, r.out, r.errOut)
			}
			call := f.lastCall(t)
			wantPath := fmt.Sprintf("/v1/patients/pat-1/readings/watch-1/3/%d/proof", tc.index)
			if call.path != wantPath || call.auth != "Bearer tok-secret" || strings.Join(call.query["purpose"], ",") != "treatment" {
				t.Fatalf("sent %+v, want GET %s?purpose=treatment", call, wantPath)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
			if tc.code == 0 && strings.Contains(r.out, "NOT VERIFIED") {
				t.Errorf("a good proof printed NOT VERIFIED:\n%s", r.out)
			}
			if tc.code == 1 && (strings.Contains(r.out, "\nVERIFIED") || r.errOut != "") {
				t.Errorf("a bad proof: stdout\n%s\nstderr %q; want NOT VERIFIED as the answer, not an error", r.out, r.errOut)
			}
		})
	}

	t.Run("--json adds verified and reason", func(t *testing.T) {
		for _, flip := range []bool{false, true} {
			p := signedProof(t, 1)
			if flip {
				p.Payload[20] ^= 0x80
			}
			f.gw.set(nil, p)
			r := f.run(t, "proof", "--patient", "pat-1", "--device", "watch-1", "--seq", "3", "--index", "1", "--json")
			var out struct {
				Verified  bool             `json:"verified"`
				Reason    string           `json:"reason"`
				Payload   []byte           `json:"payload"`
				Reading   *json.RawMessage `json:"reading"`
				Anchor    map[string]any   `json:"anchor"`
				LeafIndex int              `json:"leafIndex"`
			}
			if err := json.Unmarshal([]byte(r.out), &out); err != nil {
				t.Fatalf("stdout %q: %v", r.out, err)
			}
			if out.Verified == flip || r.code != map[bool]int{false: 0, true: 1}[flip] || out.Reason == "" {
				t.Errorf("payload flipped %t: exit %d, verified %t, reason %q", flip, r.code, out.Verified, out.Reason)
			}
			if !bytes.Equal(out.Payload, p.GetPayload()) || out.Reading == nil || out.Anchor["txId"] != "tx-anchor-7" || out.LeafIndex != 2 {
				t.Errorf("the answer is not all there:\n%s", r.out)
			}
		}
	})
	t.Run("a denial is shown", func(t *testing.T) {
		r := f.run(t, "proof", "--patient", "pat-denied", "--device", "watch-1", "--seq", "3", "--index", "0")
		if r.code != 1 || !strings.Contains(r.errOut, "access denied: no active consent for vitals (HTTP 403)") || r.out != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and the service's message", r.code, r.out, r.errOut)
		}
	})
}
