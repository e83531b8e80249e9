package ingest

import (
	"context"

	"google.golang.org/grpc"

	ingestv1 "healthexchange/proto/ingest/v1"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/serving"
	"healthexchange/wearables/mhealth"
)

// New builds the ingest service on the daemon skeleton: the ledger, the
// wearables bucket, the vault and the consent service's decision point from
// p, the journal in p's state folder, the API on gRPC (Upload public:
// devices have no bearer token, each batch is signed by a key the patient
// registered on the ledger) and HTTP/JSON, and the anchoring in the
// background. At the stop, what is stored is anchored once more (what is
// not stays in the journal for the next start).
func New(ctx context.Context, cfg Config, p *daemon.Platform) (*daemon.Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stateDir, err := p.StateDir()
	if err != nil {
		return nil, err
	}
	l, err := p.Ledger()
	if err != nil {
		return nil, err
	}
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
	svc, err := newService(l, decisions, bucket, v, stateDir, cfg.Instance, cfg.Limits, p.Log())
	if err != nil {
		return nil, err
	}
	limits := serving.DefaultLimits()
	limits.MaxRecvMsg = 2 * mhealth.MaxPayloadBytes
	return &daemon.Service{
		Register: func(s grpc.ServiceRegistrar) { ingestv1.RegisterIngestServiceServer(s, &api{svc: svc}) },
		Gateway:  []serving.RegisterFunc{ingestv1.RegisterIngestServiceHandlerFromEndpoint},
		OpenAPI:  ingestv1.OpenAPI,
		// A wearable uploads with its device certificate and its signature on
		// every batch, no token; a device certificate opens nothing else.
		Access: serving.Access{
			Public: []string{ingestv1.IngestService_Upload_FullMethodName},
			Callers: serving.Callers{
				ingestv1.IngestService_Upload_FullMethodName: {"self", "app/*", "device/*"},
				"*": {"self", "app/*"},
			},
		},
		Limits:     &limits,
		Background: []func(context.Context){svc.anchorEvery},
		Close:      svc.Close,
		Started: []any{"bucket", cfg.Bucket, "pending_batches", svc.journal.Len(),
			"anchor_every", cfg.Limits.AnchorEvery.String()},
	}, nil
}
