//go:build integration

// Package authz_test is the exchange's authorization matrix: every
// record-reading and record-writing call, by every kind of caller, against
// every consent state, over gRPC and over HTTP, on the real services (a
// consentd process and the records service) with the real policies and the
// real network. One table says which calls are allowed; every other call
// must be refused.
package authz_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/dev/itest"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/auth/devissuer"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/records"
)

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
		fmt.Fprintln(os.Stderr, "authz matrix: building consentd:", err)
		return 1
	}
	defer cleanup()
	consentdBin = bin
	if store, err = itest.StartMinIO(); err != nil {
		fmt.Fprintln(os.Stderr, "authz matrix: private MinIO:", err)
		return 1
	}
	defer store.Close()
	return m.Run()
}

// The consent states a patient's lab record can be in, towards Dr. X of
// St Mary's.
const (
	stNone         = "no-consent"
	stActive       = "active"
	stExpired      = "expired"
	stRevoked      = "revoked"
	stOtherPatient = "other-patients-consent"
	stOtherOrg     = "consent-to-the-same-name-at-providers"
	stOrg          = "consent-to-st-marys"
)

var states = []string{stNone, stActive, stExpired, stRevoked, stOtherPatient, stOtherOrg, stOrg}

// The calls.
const (
	rpcAuthorize  = "decide-read"
	rpcGet        = "get-record"
	rpcList       = "list-records"
	rpcPut        = "put-record"
	rpcBreakGlass = "get-record-break-glass"
)

var rpcs = []string{rpcAuthorize, rpcGet, rpcList, rpcPut, rpcBreakGlass}

// The callers.
const (
	whoSelf        = "the-patient"
	whoOther       = "another-patient"
	whoDrX         = "dr-x-of-st-marys"
	whoDrXProv     = "dr-x-of-providers"
	whoColleague   = "another-st-marys-clinician"
	whoER          = "st-marys-er-within-limits"
	whoEROver      = "st-marys-er-over-the-limit"
	whoPharmacist  = "pharmacist"
	whoInsurer     = "insurer"
	whoResearcher  = "researcher"
	whoWrongIssuer = "st-marys-issuer-minting-providers"
	whoNoToken     = "no-token"
)

var callers = []string{whoSelf, whoOther, whoDrX, whoDrXProv, whoColleague, whoER, whoEROver,
	whoPharmacist, whoInsurer, whoResearcher, whoWrongIssuer, whoNoToken}

// allowed is the table: whether caller may make rpc on the lab record of a
// patient in state. Everything it does not allow must be refused.
func allowed(rpc, caller, state string) bool {
	stMarys := caller == whoDrX || caller == whoColleague || caller == whoER || caller == whoEROver
	switch rpc {
	case rpcAuthorize, rpcGet, rpcList: // read labs, for treatment
		switch {
		case caller == whoSelf:
			return true // a patient reads their own records
		case caller == whoDrX:
			return state == stActive || state == stOrg
		case caller == whoDrXProv:
			return state == stOtherOrg // the consent names Providers' Dr. X
		case stMarys:
			return state == stOrg
		}
		return false // other patients, pharmacists (prescriptions only), insurers (claims only), researchers, bad tokens
	case rpcPut: // file a lab result, for treatment
		return stMarys && state == stOrg // only a consent to the organisation lets it file
	case rpcBreakGlass: // read labs in an emergency, with a reason
		switch caller {
		case whoSelf:
			return true
		case whoDrX, whoDrXProv, whoColleague, whoER:
			return true // hospital clinicians, within their daily limit
		}
		return false // over the limit, not a clinician, not a hospital, bad tokens
	}
	return false
}

// patientOf is a matrix patient: their id, their token and lab record.
type patientOf struct {
	itest.Patient
	record string
}

func TestAuthorizationMatrix(t *testing.T) {
	ctx := itest.Context(t)
	const perDay = 8 // break-glass grants a clinician may open a day
	consent := itest.NewConsentd(t, consentdBin, "-break-glass-per-day", fmt.Sprint(perDay), "-decision-burst", "400")
	rec := startRecords(t, consent)
	env := itest.Env(t)
	run := itest.Unique("m")
	providersFiler := itest.Token(t, "filer-"+run, auth.RoleClinician, ledgerapi.ProvidersMSP)

	// Each state's patient, with a lab result Providers filed (then its
	// filing consent revoked, so Providers' people read only as the state
	// says).
	lab := func(patientID string) []byte {
		return []byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},` +
			`"subject":{"reference":"Patient/` + patientID + `"},"valueQuantity":{"value":6.1,"unit":"%"}}`)
	}
	drX := "dr-x-" + run
	newPatient := func(state string) patientOf {
		p := itest.NewPatient(t, consent)
		filing := consent.Grant(t, p, "--to", "org:ProvidersMSP", "--categories", "labs", "--purposes", "treatment")
		put, err := rec.grpc.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: lab(p.ID)}, as(providersFiler))
		if err != nil {
			t.Fatalf("filing %s's record: %v", state, err)
		}
		if _, err := consent.CLI(t, p.Token, p.Key, "revoke", filing); err != nil {
			t.Fatal(err)
		}
		return patientOf{Patient: p, record: put.GetRecord().GetRecordId()}
	}
	other := newPatient("the other patient")
	patients := map[string]patientOf{}
	past := time.Now().Add(-48 * time.Hour).UTC()
	for _, st := range states {
		p := newPatient(st)
		patients[st] = p
		toDrX := []string{"--to", "user:StMarysMSP/" + drX, "--categories", "labs", "--purposes", "treatment"}
		switch st {
		case stActive:
			consent.Grant(t, p.Patient, toDrX...)
		case stExpired:
			consent.Grant(t, p.Patient, append(toDrX, "--not-before", past.Format(time.RFC3339), "--expires", past.Add(time.Hour).Format(time.RFC3339))...)
		case stRevoked:
			id := consent.Grant(t, p.Patient, toDrX...)
			if _, err := consent.CLI(t, p.Token, p.Key, "revoke", id); err != nil {
				t.Fatal(err)
			}
		case stOtherPatient:
			consent.Grant(t, other.Patient, toDrX...) // Dr. X may read the other patient's labs, not this one's
		case stOtherOrg:
			consent.Grant(t, p.Patient, "--to", "user:ProvidersMSP/"+drX, "--categories", "labs", "--purposes", "treatment")
		case stOrg:
			consent.Grant(t, p.Patient, "--to", "org:StMarysMSP", "--categories", "labs", "--purposes", "treatment")
		}
	}

	// The callers' tokens (the patient's depends on the state).
	everyService := []string{devenv.Audience("consent"), devenv.Audience("records")}
	erOver := "dr-er-over-" + run
	tokens := map[string]string{
		whoOther:      other.Token,
		whoDrX:        itest.Token(t, drX, auth.RoleClinician, ledgerapi.StMarysMSP),
		whoDrXProv:    itest.Token(t, drX, auth.RoleClinician, ledgerapi.ProvidersMSP),
		whoColleague:  itest.Token(t, "dr-colleague-"+run, auth.RoleClinician, ledgerapi.StMarysMSP),
		whoEROver:     itest.Token(t, erOver, auth.RoleClinician, ledgerapi.StMarysMSP),
		whoPharmacist: itest.Token(t, "ph-"+run, auth.RolePharmacist, ledgerapi.PharmacyMSP),
		whoInsurer:    itest.Token(t, "ins-"+run, auth.RoleInsurer, ledgerapi.InsurerMSP),
		whoResearcher: itest.IssuedToken(t, ledgerapi.ResearchMSP, devissuer.Claims{Subject: "res-" + run, Audiences: everyService,
			Role: auth.RoleResearcher, Org: ledgerapi.ResearchMSP, StudyID: "study-" + run}),
		whoWrongIssuer: itest.IssuedToken(t, ledgerapi.StMarysMSP, devissuer.Claims{Subject: drX, Audiences: everyService,
			Role: auth.RoleClinician, Org: ledgerapi.ProvidersMSP}),
	}
	// The over-the-limit clinician opens every grant of the day first.
	dc := consentv1.NewDecisionServiceClient(itest.Dial(t, consent.GRPCAddr, "app-clinician"))
	for i := range perDay {
		p := itest.NewPatient(t, consent)
		d, err := dc.Authorize(ctx, &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency", BreakGlassReason: "mass casualty triage",
			Resource: &consentv1.Resource{PatientId: p.ID, Category: "labs"}}, as(tokens[whoEROver]))
		if err != nil || !d.GetDecision().GetAllow() {
			t.Fatalf("break-glass %d of the day: %v, %v", i+1, d, err)
		}
	}

	transports := map[string]caller{
		"grpc": &grpcCaller{records: rec.grpc, decisions: dc},
		"http": newHTTPCaller(t, env, rec.httpAddr, consent.HTTPAddr),
	}
	cases, allows := 0, 0
	for _, st := range states {
		p := patients[st]
		for _, who := range callers {
			tok := tokens[who]
			switch who {
			case whoSelf:
				tok = p.Token
			case whoER:
				tok = itest.Token(t, "dr-er-"+st+"-"+run, auth.RoleClinician, ledgerapi.StMarysMSP)
			}
			for _, rpc := range rpcs {
				want := allowed(rpc, who, st)
				for name, tr := range transports {
					cases++
					if want {
						allows++
					}
					t.Run(strings.Join([]string{rpc, who, st, name}, "/"), func(t *testing.T) {
						got, detail := tr.call(ctx, t, rpc, tok, p)
						if got != want {
							t.Fatalf("allowed = %v, want %v (%s)", got, want, detail)
						}
					})
				}
			}
		}
	}
	t.Logf("%d cases, %d allowed, %d refused", cases, allows, cases-allows)
	if cases < 300 {
		t.Fatalf("only %d cases", cases)
	}
}

// caller makes one matrix call with a token ("" for none) and says whether
// it was allowed, and what came back.
type caller interface {
	call(ctx context.Context, t *testing.T, rpc, token string, p patientOf) (bool, string)
}

func as(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }

type grpcCaller struct {
	records   recordsv1.RecordServiceClient
	decisions consentv1.DecisionServiceClient
}

func (g *grpcCaller) call(ctx context.Context, t *testing.T, rpc, token string, p patientOf) (bool, string) {
	var opts []grpc.CallOption
	if token != "" {
		opts = append(opts, as(token))
	}
	var err error
	switch rpc {
	case rpcAuthorize:
		var resp *consentv1.AuthorizeResponse
		resp, err = g.decisions.Authorize(ctx, &consentv1.AuthorizeRequest{Action: "read", Purpose: "treatment",
			Resource: &consentv1.Resource{PatientId: p.ID, Category: "labs"}}, opts...)
		if err == nil {
			return resp.GetDecision().GetAllow(), strings.Join(resp.GetDecision().GetReasons(), "; ")
		}
	case rpcGet, rpcBreakGlass:
		req := &recordsv1.GetRecordRequest{PatientId: p.ID, RecordId: p.record}
		if rpc == rpcBreakGlass {
			req.Purpose, req.BreakGlassReason = "emergency", "found unconscious, prior labs needed"
		}
		_, err = g.records.GetRecord(ctx, req, opts...)
	case rpcList:
		var resp *recordsv1.ListRecordsResponse
		resp, err = g.records.ListRecords(ctx, &recordsv1.ListRecordsRequest{PatientId: p.ID}, opts...)
		if err == nil {
			for _, r := range resp.GetRecords() {
				if r.GetRecordId() == p.record {
					return true, "listed"
				}
			}
			return false, fmt.Sprintf("not listed (%d withheld)", resp.GetWithheld())
		}
	case rpcPut:
		_, err = g.records.PutRecord(ctx, &recordsv1.PutRecordRequest{PatientId: p.ID, Resource: labFor(p.ID)}, opts...)
	}
	if err != nil {
		switch status.Code(err) {
		case codes.PermissionDenied, codes.Unauthenticated:
			return false, err.Error()
		}
		t.Fatalf("%s: an answer that is neither an allow nor a refusal: %v", rpc, err)
	}
	return true, "ok"
}

func labFor(patientID string) []byte {
	return []byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},` +
		`"subject":{"reference":"Patient/` + patientID + `"},"valueQuantity":{"value":5.4,"unit":"mmol/L"}}`)
}

type httpCaller struct {
	client          *http.Client
	records, decide string
}

func newHTTPCaller(t *testing.T, env devenv.Env, recordsAddr, consentAddr string) *httpCaller {
	pem, err := os.ReadFile(env.ServicesTLS.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &httpCaller{
		client:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}},
		records: "https://" + recordsAddr, decide: "https://" + consentAddr,
	}
}

func (h *httpCaller) call(ctx context.Context, t *testing.T, rpc, token string, p patientOf) (bool, string) {
	base := h.records + "/v1/patients/" + url.PathEscape(p.ID) + "/records"
	var method, target string
	var body any
	switch rpc {
	case rpcAuthorize:
		method, target = "POST", h.decide+"/v1/authorize"
		body = map[string]any{"action": "read", "purpose": "treatment", "resource": map[string]string{"patientId": p.ID, "category": "labs"}}
	case rpcGet:
		method, target = "GET", base+"/"+url.PathEscape(p.record)
	case rpcBreakGlass:
		method, target = "GET", base+"/"+url.PathEscape(p.record)+"?purpose=emergency&break_glass_reason="+url.QueryEscape("found unconscious, prior labs needed")
	case rpcList:
		method, target = "GET", base
	case rpcPut:
		method, target = "POST", base
		body = map[string]any{"resource": labFor(p.ID)} // bytes: base64 in JSON, as protojson wants
	}
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusForbidden, http.StatusUnauthorized:
		return false, fmt.Sprintf("%d %s", resp.StatusCode, raw)
	default:
		t.Fatalf("%s: an answer that is neither an allow nor a refusal: %d %s", rpc, resp.StatusCode, raw)
	}
	switch rpc {
	case rpcAuthorize:
		var d struct {
			Decision struct {
				Allow   bool     `json:"allow"`
				Reasons []string `json:"reasons"`
			} `json:"decision"`
		}
		json.Unmarshal(raw, &d)
		return d.Decision.Allow, strings.Join(d.Decision.Reasons, "; ")
	case rpcList:
		return strings.Contains(string(raw), p.record), string(raw)
	}
	return true, "ok"
}

// recordsService is the records service run in this process for the
// matrix, with its gRPC client.
type recordsService struct {
	grpc     recordsv1.RecordServiceClient
	httpAddr string
}

func startRecords(t *testing.T, consent *itest.Consentd) *recordsService {
	t.Helper()
	s := itest.DaemonSettings(t, "records")
	s.ConsentAddr, s.StoreConfig = consent.GRPCAddr, store.ConfigPath()
	d, err := s.Load("records")
	if err != nil {
		t.Fatal(err)
	}
	cfg := records.NewConfig()
	itest.RunDaemon(t, d, func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
		return records.New(ctx, cfg, p)
	})
	return &recordsService{grpc: recordsv1.NewRecordServiceClient(itest.Dial(t, d.GRPCAddr, "app-clinician")), httpAddr: d.HTTPAddr}
}
