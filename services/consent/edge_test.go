package consent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/ledger"
)

func emergencyReq(patient, category, why string) *consentv1.AuthorizeRequest {
	return &consentv1.AuthorizeRequest{Action: "read", Purpose: "emergency", BreakGlassReason: why,
		Resource: &consentv1.Resource{PatientId: patient, Category: category}}
}

const why = "unresponsive on arrival, prior imaging needed"

// A break-glass allow is given only once the patient's notification, with
// the clinician's reason sealed for them, is on disk; the decision says so.
func TestBreakGlassNotifiesThePatientFirst(t *testing.T) {
	api, svc := decisionService(t, liveView(t), realEngine(t))
	ctx := as(testContext(t), "dr-alice", auth.RoleClinician, ledgerapi.ProvidersMSP)
	resp, err := api.Authorize(ctx, emergencyReq("pat-1", "imaging", why))
	if err != nil {
		t.Fatal(err)
	}
	d := resp.GetDecision()
	if !d.GetAllow() || !slices.Contains(d.GetFulfilled(), policy.ObligationNotifyPatient) || !slices.Contains(d.GetFulfilled(), policy.ObligationLogBreakGlass) {
		t.Fatalf("decision %v: want an allow with notify-patient and log-break-glass fulfilled", d)
	}
	// On disk: the patient's file holds the notification, the reason sealed.
	raw, err := os.ReadFile(svc.feed.path("pat-1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "unresponsive") || !strings.Contains(string(raw), `"kind":"break-glass"`) {
		t.Fatalf("feed file %s: want a break-glass notification without the reason in clear", raw)
	}
	notes, err := (&patientAPI{service: svc}).ListNotifications(asPatient(t, "pat-1"), &consentv1.ListNotificationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var bg *consentv1.Notification
	for _, n := range notes.GetNotifications() {
		if n.GetKind() == noteBreakGlass {
			bg = n
		}
	}
	if bg == nil || bg.GetBreakGlassReason() != why || bg.GetActor() != "dr-alice" || bg.GetEventId() != d.GetEventId() || bg.GetGrantUntil() == "" {
		t.Fatalf("the patient's notification %v: want the reason, the clinician, the event and the grant's end", bg)
	}

	t.Run("another patient reads their own feed only", func(t *testing.T) {
		other, err := (&patientAPI{service: svc}).ListNotifications(asPatient(t, "pat-2"), &consentv1.ListNotificationsRequest{})
		if err != nil || len(other.GetNotifications()) != 0 {
			t.Fatalf("pat-2's feed: %v, %v", other, err)
		}
	})
	t.Run("a clinician cannot read a feed", func(t *testing.T) {
		_, err := (&patientAPI{service: svc}).ListNotifications(ctx, &consentv1.ListNotificationsRequest{})
		if codeOf(err) != codes.PermissionDenied {
			t.Fatalf("got %v, want PermissionDenied", err)
		}
	})
	t.Run("no notification on disk, no access", func(t *testing.T) {
		svc.feed.Close() // the feed stops taking notifications
		_, err := api.Authorize(ctx, emergencyReq("pat-2", "imaging", why))
		if codeOf(err) != codes.Unavailable {
			t.Fatalf("got %v, want Unavailable: a break-glass allow whose notification is not written is not given", err)
		}
	})
}

func TestBreakGlassLimits(t *testing.T) {
	at := testNow
	setup := func(t *testing.T, limits BreakGlassLimits) (*decisionAPI, *service) {
		t.Helper()
		v := liveView(t)
		api, svc := decisionService(t, v, realEngine(t))
		dir := t.TempDir()
		bg, err := openBreakGlass(limits, filepath.Join(dir, "bg.json"), filepath.Join(dir, "seal.key"))
		if err != nil {
			t.Fatal(err)
		}
		svc.breakGlass = bg
		svc.now = func() time.Time { return at }
		return api, svc
	}
	decide := func(t *testing.T, api *decisionAPI, org, patient string) *consentv1.Decision {
		t.Helper()
		resp, err := api.Authorize(as(testContext(t), "dr-alice", auth.RoleClinician, org), emergencyReq(patient, "imaging", why))
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetDecision()
	}
	denied := func(t *testing.T, d *consentv1.Decision, want string) {
		t.Helper()
		if d.GetAllow() || !strings.Contains(strings.Join(d.GetReasons(), " "), want) {
			t.Fatalf("decision %v, want denied: %s", d, want)
		}
	}

	t.Run("only a hospital's clinicians break the glass", func(t *testing.T) {
		api, _ := setup(t, DefaultBreakGlassLimits())
		for _, org := range []string{ledgerapi.ResearchMSP, ledgerapi.InsurerMSP, ledgerapi.PharmacyMSP} {
			denied(t, decide(t, api, org, "pat-1"), "only for clinicians of a hospital")
		}
		if d := decide(t, api, ledgerapi.StMarysMSP, "pat-1"); !d.GetAllow() {
			t.Fatalf("St Mary's clinician: %v", d)
		}
	})
	t.Run("so many patients a day, then denied", func(t *testing.T) {
		limits := BreakGlassLimits{Window: time.Hour, PerDay: 2}
		api, svc := setup(t, limits)
		registerPatients(t, svc.view, "pat-3")
		for _, p := range []string{"pat-1", "pat-2"} {
			if d := decide(t, api, ledgerapi.ProvidersMSP, p); !d.GetAllow() {
				t.Fatalf("%s: %v", p, d)
			}
		}
		// Within its window a grant serves again without counting.
		if d := decide(t, api, ledgerapi.ProvidersMSP, "pat-1"); !d.GetAllow() {
			t.Fatalf("pat-1 again within the window: %v", d)
		}
		over := decide(t, api, ledgerapi.ProvidersMSP, "pat-3")
		denied(t, over, "break-glass limit reached")
		// The refusal is recorded with its code, for the patient to see.
		var found bool
		for _, e := range pendingEvents(svc) {
			found = found || e.EventID == over.GetEventId() && slices.Contains(e.ReasonCodes, "break-glass-limit")
		}
		if !found {
			t.Fatal("the refusal is not journaled with code break-glass-limit")
		}
		// Another clinician has limits of their own.
		resp, err := api.Authorize(as(testContext(t), "dr-bob", auth.RoleClinician, ledgerapi.ProvidersMSP), emergencyReq("pat-3", "imaging", why))
		if err != nil || !resp.GetDecision().GetAllow() {
			t.Fatalf("dr-bob: %v, %v", resp, err)
		}

		t.Run("the limits survive a restart", func(t *testing.T) {
			reopened, err := openBreakGlass(limits, svc.breakGlass.path, filepath.Join(t.TempDir(), "k"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := reopened.admit(ledgerapi.ProvidersMSP, "dr-alice", "pat-3", at)
			if err != nil || out.allow {
				t.Fatalf("after a restart: %+v, %v; want the limit still reached", out, err)
			}
		})
		t.Run("a grant ends with its window; a day later the count starts again", func(t *testing.T) {
			out, err := svc.breakGlass.admit(ledgerapi.ProvidersMSP, "dr-alice", "pat-1", at.Add(2*time.Hour))
			if err != nil || out.allow {
				t.Fatalf("pat-1 after the window, limit reached: %+v, %v", out, err)
			}
			out, err = svc.breakGlass.admit(ledgerapi.ProvidersMSP, "dr-alice", "pat-3", at.Add(25*time.Hour))
			if err != nil || !out.allow || !out.opened {
				t.Fatalf("a day later: %+v, %v", out, err)
			}
		})
	})
	t.Run("a grant that cannot be saved is a deny", func(t *testing.T) {
		api, svc := setup(t, DefaultBreakGlassLimits())
		svc.breakGlass.path = filepath.Join(t.TempDir(), "missing", "dir", "bg.json")
		denied(t, decide(t, api, ledgerapi.ProvidersMSP, "pat-1"), "could not be recorded")
	})
}

// registerPatients registers more patients in a live view (the next block).
func registerPatients(t *testing.T, v *View, ids ...string) {
	t.Helper()
	var events []ledger.Event
	for _, id := range ids {
		events = append(events, registeredEvent(t, id))
	}
	next := v.Checkpoint().Next
	if err := v.Apply(ledger.Block{Number: next, Events: events}); err != nil {
		t.Fatal(err)
	}
	v.follow(next + 1)
}

func TestFeed(t *testing.T) {
	f, err := openFeed(t.TempDir(), discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := testContext(t)
	note := func(key string) notification {
		return notification{PatientID: "pat-1", Kind: noteAccess, Key: key, Time: ledgerapi.FormatTime(testNow)}
	}
	for _, k := range []string{"a", "b", "a", "c"} { // "a" twice: written once
		if err := f.Append(ctx, note(k), true); err != nil {
			t.Fatal(err)
		}
	}
	all, changed, err := f.List("pat-1", 0, 10)
	if err != nil || len(all) != 3 || all[0].Seq != 1 || all[2].Seq != 3 || all[2].Key != "c" {
		t.Fatalf("list = %+v, %v", all, err)
	}
	if after, _, _ := f.List("pat-1", 2, 10); len(after) != 1 || after[0].Key != "c" {
		t.Fatalf("after 2: %+v", after)
	}
	go f.Append(ctx, note("d"), false)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("a reader waiting for more was not woken")
	}
	t.Run("a new feed over the same folder numbers on", func(t *testing.T) {
		g, err := openFeed(f.dir, discardLog())
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Append(ctx, note("e"), true); err != nil {
			t.Fatal(err)
		}
		if err := g.Append(ctx, note("c"), true); err != nil { // already there
			t.Fatal(err)
		}
		got, _, _ := g.List("pat-1", 0, 10)
		if len(got) != 5 || got[4].Seq != 5 || got[4].Key != "e" {
			t.Fatalf("after reopening: %+v", got)
		}
	})
	t.Run("a bad patient id is refused", func(t *testing.T) {
		if _, _, err := f.List("../etc/passwd", 0, 10); !errors.Is(err, ledgerapi.ErrInvalid) {
			t.Fatalf("got %v, want invalid", err)
		}
	})
	t.Run("erasure removes the feed", func(t *testing.T) {
		if err := f.Erase("pat-1"); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := f.List("pat-1", 0, 10); len(got) != 0 {
			t.Fatalf("after erasure: %+v", got)
		}
	})
}

// tlsPeer is a call from the holder of a certificate naming uri.
func tlsPeer(t *testing.T, ctx context.Context, uri string) context.Context {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	cert := &x509.Certificate{URIs: []*url.URL{u}}
	return peer.NewContext(ctx, &peer.Peer{AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}})
}

// A decision on someone's behalf: only from an enforcement point, for a
// person this service's issuers vouch for, never with a token as well.
func TestDelegatedDecisions(t *testing.T) {
	v := liveView(t, activeConsent("c-1", "pat-1", ledgerapi.GranteeUser, "StMarysMSP/dr-alice", labsOnly, treatmentOnly))
	api, svc := decisionService(t, v, realEngine(t))
	cfg := auth.NewConfig()
	cfg.Audience = "consent"
	pub := filepath.Join(t.TempDir(), "idp.pub")
	writeTestKey(t, pub)
	cfg.Issuers = map[string]auth.Issuer{"https://idp.stmarys": {Keys: []string{pub}, Org: ledgerapi.StMarysMSP, Roles: []auth.Role{auth.RoleClinician}}}
	verifier, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.verifier = verifier
	alice := &consentv1.Subject{Id: "dr-alice", Role: "clinician", Org: ledgerapi.StMarysMSP, Issuer: "https://idp.stmarys"}
	req := func(who *consentv1.Subject) *consentv1.AuthorizeRequest {
		r := readReq("pat-1", "labs", "", "treatment")
		r.OnBehalfOf = who
		return r
	}
	records := tlsPeer(t, testContext(t), "spiffe://health-exchange/service/records")
	for name, tc := range map[string]struct {
		ctx   context.Context
		who   *consentv1.Subject
		code  codes.Code
		allow bool
	}{
		"the records service for St Mary's dr-alice": {ctx: records, who: alice, allow: true},
		"an app naming someone":                      {ctx: tlsPeer(t, testContext(t), "spiffe://health-exchange/app/clinician"), who: alice, code: codes.PermissionDenied},
		"a device naming someone":                    {ctx: tlsPeer(t, testContext(t), "spiffe://health-exchange/device/wearable"), who: alice, code: codes.PermissionDenied},
		"the consent service's own gateway":          {ctx: tlsPeer(t, testContext(t), "spiffe://health-exchange/service/consent"), who: alice, code: codes.PermissionDenied},
		"no certificate at all":                      {ctx: testContext(t), who: alice, code: codes.PermissionDenied},
		"a person of another organisation than the issuer's": {ctx: records,
			who: &consentv1.Subject{Id: "dr-alice", Role: "clinician", Org: ledgerapi.ProvidersMSP, Issuer: "https://idp.stmarys"}, code: codes.PermissionDenied},
		"an issuer nobody trusts": {ctx: records,
			who: &consentv1.Subject{Id: "dr-alice", Role: "clinician", Org: ledgerapi.StMarysMSP, Issuer: "https://evil"}, code: codes.PermissionDenied},
		"a role the issuer may not assert": {ctx: records,
			who: &consentv1.Subject{Id: "pat-1", Role: "patient", Issuer: "https://idp.stmarys"}, code: codes.PermissionDenied},
		"a token and someone named": {ctx: auth.NewContext(records, auth.Principal{Subject: "dr-bob", Role: auth.RoleClinician, Org: ledgerapi.StMarysMSP}),
			who: alice, code: codes.InvalidArgument},
		"neither": {ctx: records, code: codes.Unauthenticated},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := api.Authorize(tc.ctx, req(tc.who))
			if tc.code != codes.OK {
				if codeOf(err) != tc.code {
					t.Fatalf("got %v, want %v", err, tc.code)
				}
				return
			}
			if err != nil || resp.GetDecision().GetAllow() != tc.allow {
				t.Fatalf("got %v, %v; want allow %v", resp, err, tc.allow)
			}
		})
	}
}

// writeTestKey writes a fresh Ed25519 public key as PEM to path.
func writeTestKey(t testing.TB, path string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
