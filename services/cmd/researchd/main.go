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
			fs.StringVar(&cfg.Instance, "instance", cfg.Instance, "this instance's name, different for each instance and kept across restarts: at a start it resumes only the dataset jobs it took")
			fs.StringVar(&cfg.TempDir, "temp-dir", cfg.TempDir, "where a dataset being built is spooled, about 4x its CSV (default: the system's temporary folder)")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
			return research.New(ctx, cfg, p)
		},
	})
}
