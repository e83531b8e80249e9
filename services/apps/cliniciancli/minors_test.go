package cliniciancli

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

	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/apps/internal/clikit"
	"healthexchange/services/platform/ledger"
)

// register-minor and claim-key send the signed file's payload and
// signature exactly, with the clinician's token, to the consent service;
// a file that is not a signed payload is refused before any call.
func TestMinorCommands(t *testing.T) {
	var mu sync.Mutex
	var got []*consentv1.SignedPayload
	var auths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		auths = append(auths, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/minors:register":
			var req consentv1.RegisterMinorRequest
			if err := protojson.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			got = append(got, req.GetRegistration())
			out, _ := protojson.Marshal(&consentv1.RegisterMinorResponse{
				Patient:    &consentv1.Patient{PatientId: "baby-1", RegisteredBy: "StMarysMSP", MajorityAt: "2040-01-01T00:00:00Z"},
				Delegation: &consentv1.Delegation{DelegationId: "d-1", DelegateId: "dad-1", Relationship: "parent", Powers: []string{"read"}}})
			w.Write(out)
		case "/v1/minors:claim-key":
			var req consentv1.ClaimKeyRequest
			if err := protojson.Unmarshal(body, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			got = append(got, req.GetClaim())
			out, _ := protojson.Marshal(&consentv1.ClaimKeyResponse{Patient: &consentv1.Patient{PatientId: "baby-1", PublicKey: "bXkta2V5LW15LWtleS1teS1rZXk=", KeyVersion: 1, RegisteredBy: "StMarysMSP"}})
			w.Write(out)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	signed := ledger.Signed{Payload: `{"op":"patient.register-minor","patientId":"baby-1"}`, Signature: "c2lnbmF0dXJl"}
	file := filepath.Join(dir, "registration.json")
	if err := clikit.WriteSigned(file, signed); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"payload":"p"}`), 0o600)
	clinician := func(args ...string) (int, string, string) {
		full := append([]string{args[0], "--consent-server", srv.URL, "--ca", ca}, args[1:]...)
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		code := run(ctx, full, strings.NewReader(""), &out, &errOut)
		if strings.Contains(out.String()+errOut.String(), "tok-secret") {
			t.Fatal("the bearer token was printed")
		}
		return code, out.String(), errOut.String()
	}

	t.Setenv("HX_TOKEN", "")
	if code, _, _ := clinician("register-minor", file); code != 1 {
		t.Fatalf("without a token: exit %d", code)
	}
	t.Setenv("HX_TOKEN", "tok-secret")
	for _, cmd := range []string{"register-minor", "claim-key"} {
		if code, _, _ := clinician(cmd); code != 2 {
			t.Fatalf("%s without a file: exit %d", cmd, code)
		}
		if code, _, errOut := clinician(cmd, bad); code != 1 || !strings.Contains(errOut, "signed file") {
			t.Fatalf("%s of a file without a signature: exit %d %s", cmd, code, errOut)
		}
	}
	if len(got) != 0 {
		t.Fatal("a refused file reached the service")
	}
	code, out, errOut := clinician("register-minor", file)
	if code != 0 || !strings.Contains(out, "registered baby-1 as a minor of StMarysMSP") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if code, out, errOut := clinician("claim-key", file); code != 0 || !strings.Contains(out, "own key") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if len(got) != 2 || got[0].GetPayload() != signed.Payload || got[0].GetSignature() != signed.Signature || got[1].GetPayload() != signed.Payload {
		t.Fatalf("sent %v", got)
	}
	for _, a := range auths {
		if a != "Bearer tok-secret" {
			t.Fatalf("authorization %q", a)
		}
	}
}
