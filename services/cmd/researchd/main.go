// Command researchd runs the research service: anonymized datasets from the
// patients who consented to research (services/research). Flags: researchd
// -help; defaults from the development network (make up).
package main

import (
	"context"
	"flag"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/research"
)

func main() {
	cfg := research.NewConfig()
	daemon.Main(daemon.Spec{
		Name:    "research",
		Profile: devenv.Profile{},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the bucket of the released datasets (made if missing)")
			fs.StringVar(&cfg.RecordsBucket, "records-bucket", cfg.RecordsBucket, "the records service's bucket (read only)")
			fs.StringVar(&cfg.WearablesBucket, "wearables-bucket", cfg.WearablesBucket, "the ingest service's bucket (read only)")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
			return research.New(ctx, cfg, p)
		},
	})
}
