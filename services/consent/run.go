package consent

import (
	"context"
	"path/filepath"
	"time"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/auth"
	"healthexchange/services/durable"
	"healthexchange/services/ledger"
	"healthexchange/services/policy"
	"healthexchange/services/serving"
	"healthexchange/services/telemetry"
)

// Run serves the consent service until ctx ends, then stops cleanly: no new
// calls, calls in flight finish, access events are flushed (or stay in the
// journal for the next start), the view's snapshot is saved.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	shutdownTracing, err := telemetry.Setup(ctx, cfg.Tracing)
	if err != nil {
		return err
	}
	defer shutdownTracing(context.Background())

	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return err
	}
	engine, err := policy.New(ctx)
	if err != nil {
		return err
	}
	lc, err := ledger.Dial(cfg.Ledger)
	if err != nil {
		return err
	}
	defer lc.Close()

	view := NewView()
	if err := loadSnapshot(filepath.Join(cfg.StateDir, "view.json"), view); err != nil {
		return err
	}
	journal, err := durable.OpenJournal[ledgerapi.AccessEvent](filepath.Join(cfg.StateDir, "access-events"))
	if err != nil {
		return err
	}
	defer journal.Close()
	requests, err := openRequests(filepath.Join(cfg.StateDir, "access-requests.json"))
	if err != nil {
		return err
	}
	svc := &service{
		ledger: lc, view: view, policy: engine, journal: journal, requests: requests,
		now: time.Now, log: cfg.Log, awaitView: cfg.AwaitView,
		shipper: &shipper{journal: journal, sink: lc, every: cfg.FlushEvery, batch: cfg.EventBatch, kick: make(chan struct{}, 1), log: cfg.Log},
	}
	cfg.Log.Info("consent service starting", "grpc", cfg.GRPCAddr, "http", cfg.HTTPAddr,
		"view_next_block", view.Checkpoint().Next, "pending_access_events", journal.Len())

	grpcServer, healthServer, err := serving.NewGRPCServer(cfg.TLS, verifier, nil)
	if err != nil {
		return err
	}
	consentv1.RegisterConsentServiceServer(grpcServer, &patientAPI{service: svc})
	consentv1.RegisterDecisionServiceServer(grpcServer, &decisionAPI{service: svc})
	httpServer, err := serving.Gateway(ctx, serving.GatewayConfig{
		Name: "consent", TLS: cfg.TLS, GRPCAddr: cfg.GRPCAddr, OpenAPI: consentv1.OpenAPI,
		Register: []serving.RegisterFunc{
			consentv1.RegisterConsentServiceHandlerFromEndpoint,
			consentv1.RegisterDecisionServiceHandlerFromEndpoint,
		},
	})
	if err != nil {
		return err
	}

	f := &follower{src: lc, view: view, snapshotPath: filepath.Join(cfg.StateDir, "view.json"),
		retry: cfg.Retry, saveEvery: cfg.SaveViewEvery, log: cfg.Log}
	return serving.Serve(ctx, serving.Servers{
		Name: "consent", Log: cfg.Log,
		GRPC: grpcServer, Health: healthServer, GRPCAddr: cfg.GRPCAddr,
		HTTP: httpServer, HTTPAddr: cfg.HTTPAddr,
		Background: []func(context.Context){f.run, svc.shipper.run},
	})
}
