// Command recordsd runs the records service: patients' FHIR records,
// encrypted in object storage, notarized on the ledger, served with consent
// (services/records). Flags: recordsd -help; defaults from the development
// network (make up).
package main

import (
	"context"
	"flag"

	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/daemon"
	"healthexchange/services/records"
)

func main() {
	cfg := records.NewConfig()
	daemon.Main(daemon.Spec{
		Name:    "records",
		Profile: devenv.Profile{},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "the bucket of the records (made if missing)")
			fs.DurationVar(&cfg.SweepEvery, "sweep-every", cfg.SweepEvery, "how often unfinished puts are looked for")
			fs.DurationVar(&cfg.PendingAfter, "pending-after", cfg.PendingAfter, "how old an unfinished put must be before the sweeper removes it")
			fs.StringVar(&cfg.CardKeyDir, "card-key-dir", cfg.CardKeyDir, "the folder of the health card issuers' signing keys, kept across restarts (default: card-issuers beside the KEK)")
			fs.StringVar(&cfg.CardIssuerURL, "card-issuer-url", cfg.CardIssuerURL, "the public https URL health cards name as issuer, followed by /shc/<MSP id> (default: https:// and the HTTP address)")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
			return records.New(ctx, cfg, p)
		},
	})
}
