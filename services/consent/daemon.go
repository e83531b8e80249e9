package consent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/consent/web"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/serving"
)

// New builds the consent service on the daemon skeleton: the policy
// engine, the ledger from p, the decision view (restored from its snapshot
// in p's state folder), the access-event journal and the access requests;
// the patient API and the decision point on gRPC and HTTP/JSON; following
// the ledger and shipping access events in the background. Its health check
// says SERVING only while the view follows the ledger. At the stop, access
// events are flushed (or stay in the journal for the next start) and the
// view's snapshot is saved.
func New(ctx context.Context, cfg Config, p *daemon.Platform) (*daemon.Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stateDir, err := p.StateDir()
	if err != nil {
		return nil, err
	}
	engine, err := policy.New(ctx)
	if err != nil {
		return nil, err
	}
	ledgers, err := p.Ledgers()
	if err != nil {
		return nil, err
	}
	lc := ledgers[0]
	sinks, hospitals := map[string]eventSink{}, map[string]hospitalLedger{}
	for _, l := range ledgers {
		sinks[l.MSPID()] = l
		if o, ok := ledgerapi.OrganisationOf(l.MSPID()); ok && o.Kind == ledgerapi.OrgHospital {
			hospitals[l.MSPID()] = l
		}
	}
	bgKey, err := loadOrMakeKey(filepath.Join(stateDir, "break-glass.key"))
	if err != nil {
		return nil, err
	}
	decisionLimit, err := serving.NewLimiter(cfg.DecisionRate)
	if err != nil {
		return nil, err
	}
	requestLimit, err := serving.NewLimiter(cfg.RequestRate)
	if err != nil {
		return nil, err
	}
	bg, err := openBreakGlass(cfg.BreakGlass, filepath.Join(stateDir, "break-glass.json"), filepath.Join(stateDir, "break-glass-seal.key"))
	if err != nil {
		return nil, err
	}
	view := NewView()
	snapshot := filepath.Join(stateDir, "view.json")
	if err := loadSnapshot(snapshot, view); err != nil {
		return nil, err
	}
	journal, err := durable.OpenJournal[ledgerapi.AccessEvent](filepath.Join(stateDir, "access-events"))
	if err != nil {
		return nil, err
	}
	refused, err := durable.OpenJournal[ledgerapi.AccessEvent](filepath.Join(stateDir, "access-events-refused"))
	if err != nil {
		journal.Close()
		return nil, err
	}
	// The access requests and break-glass grants every instance must see:
	// in the shared bucket when there is one, else in the state folder.
	var requests *requestStore
	if cfg.SharedBucket != "" {
		var shared *objectstore.Bucket
		if shared, err = p.Bucket(ctx, cfg.SharedBucket); err == nil {
			requests, bg.shared = sharedRequests(shared), shared
		}
	} else {
		requests, err = openRequests(filepath.Join(stateDir, "access-requests.json"))
	}
	if err != nil {
		journal.Close()
		refused.Close()
		return nil, err
	}
	feed, err := openFeed(filepath.Join(stateDir, "notifications"), p.Log())
	if err != nil {
		journal.Close()
		refused.Close()
		return nil, err
	}
	log := p.Log()
	svc := &service{
		ledger: lc, view: view, policy: engine, journal: journal, requests: requests,
		now: time.Now, log: log, awaitView: cfg.AwaitView, breakGlassKey: bgKey, verifier: p.Verifier(),
		breakGlass: bg, feed: feed, decisionLimit: decisionLimit, requestLimit: requestLimit, hospitals: hospitals,
		shipper: &shipper{journal: journal, refused: refused, sinks: sinks, own: lc.MSPID(), every: cfg.FlushEvery, batch: cfg.EventBatch,
			kick: make(chan struct{}, 1), log: log},
	}
	view.observe = observer{consent: svc.consentChanged, erased: svc.patientErased}
	signInLimit, err := serving.NewLimiter(signInRate)
	if err != nil {
		return nil, err
	}
	webSetup := p.Web()
	var signInKey ed25519.PrivateKey
	if webSetup.SignInKey != "" {
		if signInKey, err = LoadSignInKey(webSetup.SignInKey); err != nil {
			return nil, err
		}
	}
	signIn, err := newSignIn(p.Verifier(), signInKey, p.Verifier().Audience(), webSetup.SignInAudiences, lc, signInLimit, log)
	if err != nil {
		return nil, err
	}
	records, err := newRecordsRelay(webSetup.RecordsURL, p.TLS(), p.Verifier(), log)
	if err != nil {
		return nil, err
	}
	f := &follow.Follower{Src: lc, View: view, SnapshotPath: snapshot, Retry: cfg.Retry, SaveEvery: cfg.SaveViewEvery, Log: log}
	return &daemon.Service{
		Register: func(s grpc.ServiceRegistrar) {
			consentv1.RegisterConsentServiceServer(s, &patientAPI{service: svc})
			consentv1.RegisterDecisionServiceServer(s, &decisionAPI{service: svc})
		},
		Gateway: []serving.RegisterFunc{
			consentv1.RegisterConsentServiceHandlerFromEndpoint,
			consentv1.RegisterDecisionServiceHandlerFromEndpoint,
		},
		OpenAPI: consentv1.OpenAPI,
		// The enforcement points ask with their own certificates on behalf
		// of the person they verified; apps and the gateway with a token.
		Access: serving.Access{
			Callers: serving.Callers{
				consentv1.DecisionService_Authorize_FullMethodName:      append([]string{"self", "app/*"}, delegateIDs()...),
				consentv1.DecisionService_BatchAuthorize_FullMethodName: append([]string{"self", "app/*"}, delegateIDs()...),
				"*": {"self", "app/*"},
			},
			Delegated: []string{consentv1.DecisionService_Authorize_FullMethodName, consentv1.DecisionService_BatchAuthorize_FullMethodName},
			Delegates: Delegates,
		},
		Routes: map[string]http.Handler{"GET /v1/notifications/events": svc.eventStream(),
			// The patient's web app and its sign-in (signin.go, web/).
			"GET /app":                http.RedirectHandler("/app/", http.StatusMovedPermanently),
			"GET /app/":               web.Handler("/app/"),
			"GET /app/api/vocabulary": vocabularyHandler(records.Offered()),
			"POST /app/api/challenge": signIn.challengeHandler(),
			"POST /app/api/session":   signIn.sessionHandler(),
			// The records page's calls, relayed to the records service.
			"GET /app/api/patients/{patient}/records":                  records.handler(relayList),
			"GET /app/api/patients/{patient}/records/{record}":         records.handler(relayGet),
			"GET /app/api/patients/{patient}/records/{record}/history": records.handler(relayHistory),
		},
		Background: []func(context.Context){f.Run, svc.shipper.run, readiness(view, p.SetServing),
			svc.announceExpiring(cfg.ExpiringNotice, cfg.ExpiringEvery)},
		Close: func() error { return errors.Join(journal.Close(), refused.Close(), feed.Close()) },
		Started: []any{"view_next_block", view.Checkpoint().Next, "pending_access_events", journal.Len(),
			"refused_access_events", refused.Len()},
		NotReady: true,
	}, nil
}

// delegateIDs are Delegates as caller rules.
func delegateIDs() []string {
	out := make([]string, len(Delegates))
	for i, d := range Delegates {
		out[i] = "service/" + d
	}
	return out
}

// readiness reports the view's liveness to the health service every 100 ms
// until ctx ends: SERVING while it follows the ledger and has caught up.
func readiness(view *View, set func(bool)) func(context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last, first := false, true
		for {
			live, _ := view.Live()
			if live != last || first {
				set(live)
				last, first = live, false
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

// loadOrMakeKey reads a 32-byte secret key from path, making it (0600) the
// first time.
func loadOrMakeKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		if err := durable.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("consent: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("consent: %s is not a 32-byte key", path)
	}
	return key, nil
}
