// Command ingestd runs the ingest service: wearable batches in, readings
// and proofs out (services/ingest). Flags: ingestd -help; defaults from the
// development network (make up).
package main

import (
	"context"
	"flag"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/ingest"
	"healthexchange/services/platform/daemon"
)

func main() {
	cfg := ingest.NewConfig()
	daemon.Main(daemon.Spec{
		Name:    "ingest",
		Profile: devenv.Profile{},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the bucket of the readings (made if missing)")
			fs.StringVar(&cfg.Instance, "instance", cfg.Instance, "this service's name in its anchor ids")
			fs.DurationVar(&cfg.Limits.AnchorEvery, "anchor-every", cfg.Limits.AnchorEvery, "the anchoring period: one ledger transaction per period")
			fs.IntVar(&cfg.Limits.AnchorMax, "anchor-max", cfg.Limits.AnchorMax, "the most batches under one anchored root")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) { return ingest.New(ctx, cfg, p) },
	})
}
