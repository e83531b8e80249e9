package partnercli

import (
	"bytes"
	"context"
	"encoding/pem"
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

	recordsv1 "healthexchange/proto/records/v1"
)

const (
	filedRx    = `{"resourceType":"MedicationRequest","status":"active"}`
	filedClaim = `{"resourceType":"Claim","total":{"value":1.25e2}}`
)

// gateway is a fake records gateway that keeps what it was sent.
type gateway struct {
	mu       sync.Mutex
	bodies   map[string][]byte
	auth     map[string]string
	fillable bool
	refuse   bool
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.bodies[r.URL.Path], g.auth[r.URL.Path] = body, r.Header.Get("Authorization")
	g.mu.Unlock()
	var answer proto.Message
	switch r.URL.Path {
	case "/v1/prescriptions/rx-1:verify":
		v := &recordsv1.VerifyPrescriptionResponse{Notarized: true, Version: 1, LatestVersion: 1, PrescriberOrg: "ProvidersMSP",
			PrescriberName: "Providers General Hospital", PrescriberRegistered: true, Status: "active", Intent: "order", Fills: 2, Fillable: g.fillable}
		if !g.fillable {
			v.Dispensed, v.Problems = 2, []string{"all 2 fill(s) are dispensed"}
		}
		answer = v
	case "/v1/prescriptions/rx-1:dispense":
		if g.refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"code":9,"message":"conflicts with the ledger: prescription rx-1 allows 2 fill(s) and 2 are dispensed"}`))
			return
		}
		answer = &recordsv1.DispensePrescriptionResponse{RecordId: "rx-1", Version: 1, Fill: 1, Fills: 2, Quantity: 60, Org: "PharmacyMSP", Pharmacist: "ph-1", TxId: "tx-9"}
	case "/v1/records:verify":
		var req recordsv1.VerifyRecordRequest
		protojson.Unmarshal(body, &req)
		v := &recordsv1.VerifyRecordResponse{Sha256: digest(req.GetResource())}
		if string(req.GetResource()) == filedClaim || string(req.GetResource()) == filedRx {
			v.Match, v.Matches = true, []*recordsv1.NotarizedVersion{{Version: 1, NotarizedAt: "2026-12-01T10:00:00Z"}}
		}
		answer = v
	default:
		http.NotFound(w, r)
		return
	}
	data, _ := protojson.Marshal(answer)
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

type env struct {
	g   *gateway
	url string
	ca  string
	dir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	g := &gateway{bodies: map[string][]byte{}, auth: map[string]string{}, fillable: true}
	s := httptest.NewTLSServer(g)
	t.Cleanup(s.Close)
	e := &env{g: g, url: s.URL, dir: t.TempDir()}
	e.ca = filepath.Join(e.dir, "ca.pem")
	os.WriteFile(e.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600)
	return e
}

func (e *env) file(t *testing.T, name, content string) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) run(t *testing.T, app func(context.Context, []string, io.Reader, io.Writer, io.Writer) int, token string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Setenv("HX_TOKEN", token)
	full := append(append([]string{}, args[0], "--server", e.url, "--ca", e.ca), args[1:]...)
	code := app(ctx, full, strings.NewReader(""), &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestPharmacist(t *testing.T) {
	e := newEnv(t)
	rx := e.file(t, "rx.json", filedRx)
	t.Run("verify: fillable", func(t *testing.T) {
		code, out := e.run(t, runPharmacist, "tok", "verify", "--prescription", rx, "--record", "rx-1")
		if code != 0 || !strings.HasPrefix(out, "FILLABLE\n") || !strings.Contains(out, "Providers General Hospital") || e.g.auth["/v1/prescriptions/rx-1:verify"] != "Bearer tok" {
			t.Fatalf("%d %s", code, out)
		}
		if !bytes.Contains(e.g.bodies["/v1/prescriptions/rx-1:verify"], []byte(`"resource"`)) {
			t.Fatal("the prescription's bytes were not sent")
		}
	})
	t.Run("verify: not fillable, with the reason, exit 1", func(t *testing.T) {
		e.g.fillable = false
		defer func() { e.g.fillable = true }()
		code, out := e.run(t, runPharmacist, "tok", "verify", "--prescription", rx, "--record", "rx-1")
		if code != 1 || !strings.HasPrefix(out, "NOT FILLABLE\n") || !strings.Contains(out, "all 2 fill(s) are dispensed") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("dispense sends the file's hash and the quantity", func(t *testing.T) {
		code, out := e.run(t, runPharmacist, "tok", "dispense", "--prescription", rx, "--record", "rx-1", "--quantity", "60")
		if code != 0 || !strings.Contains(out, "DISPENSED fill 1 of 2") {
			t.Fatalf("%d %s", code, out)
		}
		var req recordsv1.DispensePrescriptionRequest
		if err := protojson.Unmarshal(e.g.bodies["/v1/prescriptions/rx-1:dispense"], &req); err != nil || req.GetSha256() != digest([]byte(filedRx)) || req.GetQuantity() != 60 {
			t.Fatalf("sent %v, %v", &req, err)
		}
	})
	t.Run("the ledger's refusal is shown, exit 1", func(t *testing.T) {
		e.g.refuse = true
		defer func() { e.g.refuse = false }()
		code, out := e.run(t, runPharmacist, "tok", "dispense", "--prescription", rx, "--record", "rx-1", "--quantity", "60")
		if code != 1 || !strings.Contains(out, "allows 2 fill(s)") {
			t.Fatalf("%d %s", code, out)
		}
	})
	for name, args := range map[string][]string{
		"no record":     {"verify", "--prescription", rx},
		"no quantity":   {"dispense", "--prescription", rx, "--record", "rx-1"},
		"huge quantity": {"dispense", "--prescription", rx, "--record", "rx-1", "--quantity", "100001"},
		"extra args":    {"verify", "--prescription", rx, "--record", "rx-1", "more"},
	} {
		t.Run("usage: "+name, func(t *testing.T) {
			if code, out := e.run(t, runPharmacist, "tok", args...); code != 2 {
				t.Fatalf("%d %s", code, out)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		if code, out := e.run(t, runPharmacist, "", "verify", "--prescription", rx, "--record", "rx-1"); code != 1 || !strings.Contains(out, "no bearer token") {
			t.Fatalf("%d %s", code, out)
		}
	})
}

func TestInsurer(t *testing.T) {
	e := newEnv(t)
	claim := e.file(t, "claim.json", filedClaim)
	doc := e.file(t, "rx.json", filedRx)
	changed := e.file(t, "changed.json", strings.Replace(filedClaim, "1.25e2", "9.25e2", 1))
	t.Run("every document notarized: VALID, with no token", func(t *testing.T) {
		code, out := e.run(t, runInsurer, "", "verify", "--claim", claim, "--document", doc)
		if code != 0 || !strings.HasPrefix(out, "VALID\n") || strings.Count(out, "NOTARIZED version 1") != 2 {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("a changed document: NOT VALID, exit 1", func(t *testing.T) {
		code, out := e.run(t, runInsurer, "tok", "verify", "--claim", claim, "--document", changed)
		if code != 1 || !strings.HasPrefix(out, "NOT VALID\n") || !strings.Contains(out, "NOT NOTARIZED") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _ := e.run(t, runInsurer, "", "verify"); code != 2 {
			t.Fatalf("no claim: %d", code)
		}
		args := []string{"verify", "--claim", claim}
		for range maxDocuments + 1 {
			args = append(args, "--document", doc)
		}
		if code, _ := e.run(t, runInsurer, "", args...); code != 2 {
			t.Fatalf("too many documents: %d", code)
		}
	})
}
