package research

import (
	"context"

	"google.golang.org/grpc"

	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/platform/serving"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
)

// New builds the research service on the daemon skeleton: the dataset
// policy, the ledger (as the research organisation), the vault and the
// three buckets from p, the API on gRPC and HTTP/JSON, and the job worker
// in the background. Jobs interrupted by a stop are resolved at the next
// start.
func New(ctx context.Context, cfg Config, p *daemon.Platform) (*daemon.Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	decider, err := policy.NewDatasetEngine(ctx)
	if err != nil {
		return nil, err
	}
	l, err := p.Ledger()
	if err != nil {
		return nil, err
	}
	v, err := p.Vault()
	if err != nil {
		return nil, err
	}
	datasets, err := p.Bucket(ctx, cfg.Bucket)
	if err != nil {
		return nil, err
	}
	records, err := p.Bucket(ctx, cfg.RecordsBucket)
	if err != nil {
		return nil, err
	}
	wearables, err := p.Bucket(ctx, cfg.WearablesBucket)
	if err != nil {
		return nil, err
	}
	src := &storeSources{ledger: l, records: recordstore.NewArchive(records, v), readings: readingstore.NewArchive(wearables, v)}
	svc := newService(l, src, datasets, decider, p.Log())
	svc.tempDir, svc.instance = cfg.TempDir, cfg.Instance
	return &daemon.Service{
		Register:   func(s grpc.ServiceRegistrar) { researchv1.RegisterResearchServiceServer(s, &api{svc: svc}) },
		Gateway:    []serving.RegisterFunc{researchv1.RegisterResearchServiceHandlerFromEndpoint},
		OpenAPI:    researchv1.OpenAPI,
		Background: []func(context.Context){svc.work},
		Started:    []any{"bucket", cfg.Bucket, "reads", []string{cfg.RecordsBucket, cfg.WearablesBucket}, "instance", cfg.Instance},
	}, nil
}
