package records

import (
	"context"
	"errors"
	"healthexchange/chaincode/ledgerapi"
	"net/http"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	recordsv1 "healthexchange/proto/records/v1"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/serving"
)

// New builds the records service on the daemon skeleton: the ledger (as
// every organisation it files records for, its own first), the records and
// wearables buckets, the vault and the consent service's decision point from
// p, the API on gRPC and HTTP/JSON (verification public), the FHIR R4 API
// beside it (FHIRBase), and the sweeper of
// unfinished puts in the background.
func New(ctx context.Context, cfg Config, p *daemon.Platform) (*daemon.Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ledgers, err := p.Ledgers()
	if err != nil {
		return nil, err
	}
	l := ledgers[0]
	bucket, err := p.Bucket(ctx, cfg.Bucket)
	if err != nil {
		return nil, err
	}
	v, err := p.Vault()
	if err != nil {
		return nil, err
	}
	decisions, err := p.Decisions()
	if err != nil {
		return nil, err
	}
	if p.Verifier() == nil {
		return nil, errors.New("records: the FHIR API needs the daemon's token verifier")
	}
	svc := NewService(l, decisions, bucket, v, p.Log())
	stateDir, err := p.StateDir()
	if err != nil {
		return nil, err
	}
	svc.notary = NewNotaryView()
	snapshot := filepath.Join(stateDir, "notary-view.json")
	if err := loadNotaryView(snapshot, svc.notary); err != nil {
		return nil, err
	}
	follower := &follow.Follower{Src: l, View: svc.notary, SnapshotPath: snapshot, Retry: time.Second, SaveEvery: time.Second, Log: p.Log()}
	svc.pendingAfter, svc.hooks = cfg.PendingAfter, cfg.hooks
	if svc.verifyLimit, err = serving.NewLimiter(cfg.VerifyRate); err != nil {
		return nil, err
	}
	if svc.searchLimit, err = serving.NewLimiter(cfg.SearchRate); err != nil {
		return nil, err
	}
	svc.filers = map[string]Filer{}
	svc.dispensers = map[string]Dispenser{}
	registrars := map[string]CardRegistrar{}
	for _, f := range ledgers {
		registrars[f.MSPID()] = f
		svc.filers[f.MSPID()] = f
		if o, ok := ledgerapi.OrganisationOf(f.MSPID()); ok && o.Kind == ledgerapi.OrgPharmacy {
			svc.dispensers[f.MSPID()] = f
		}
	}
	keyDir := cfg.CardKeyDir
	if keyDir == "" {
		secrets, err := p.SecretsDir()
		if err != nil {
			return nil, err
		}
		keyDir = filepath.Join(secrets, "card-issuers")
	}
	issuerURL := cfg.CardIssuerURL
	if issuerURL == "" {
		issuerURL = "https://" + p.HTTPAddr()
	}
	if svc.cards, err = loadCardIssuers(keyDir, issuerURL, registrars); err != nil {
		return nil, err
	}
	if svc.cardCheckLimit, err = serving.NewLimiter(cfg.VerifyRate); err != nil {
		return nil, err
	}
	if cfg.WearablesBucket != "" {
		if svc.wearables, err = p.Bucket(ctx, cfg.WearablesBucket); err != nil {
			return nil, err
		}
	}
	return &daemon.Service{
		Register: func(s grpc.ServiceRegistrar) { recordsv1.RegisterRecordServiceServer(s, &api{svc: svc}) },
		Gateway:  []serving.RegisterFunc{recordsv1.RegisterRecordServiceHandlerFromEndpoint},
		OpenAPI:  recordsv1.OpenAPI,
		Access: serving.Access{Public: []string{recordsv1.RecordService_VerifyRecord_FullMethodName, recordsv1.RecordService_CheckHealthCard_FullMethodName},
			PublicPaths: []string{"/v1/records:verify", "/v1/health-cards:check"}},
		Routes: map[string]http.Handler{
			FHIRBase + "/":                         svc.FHIRHandler(p.Verifier()),
			"GET /.well-known/smart-configuration": http.HandlerFunc(smartConfigurationHandler),
			"GET /.well-known/jwks.json":           svc.jwksHandler(""),
			"GET /shc/{org}/.well-known/jwks.json": svc.jwksHandler("{org}"),
		},
		Limits: limits(),
		Background: []func(context.Context){
			func(ctx context.Context) { svc.sweepEvery(ctx, cfg.SweepEvery) },
			follower.Run,
		},
		Started: []any{"bucket", cfg.Bucket},
	}, nil
}

// limits fit the largest resource: 1 MiB, about 1.4 MB in base64 in the
// gateway's JSON; nothing larger is read, nor sent on to the gRPC server.
func limits() *serving.Limits {
	l := serving.DefaultLimits()
	l.MaxRecvMsg = 2 * fhir.MaxResourceBytes
	l.MaxGatewaySend = 2 * fhir.MaxResourceBytes
	l.MaxBody = 3 * fhir.MaxResourceBytes
	return &l
}
