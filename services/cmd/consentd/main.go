// Command consentd runs the consent service: the patient API and the
// decision point of every other service (services/consent). Flags:
// consentd -help; defaults from the development network (make up).
package main

import (
	"context"
	"flag"

	"healthexchange/services/consent"
	"healthexchange/services/dev/devenv"
	"healthexchange/services/platform/daemon"
)

func main() {
	cfg := consent.NewConfig()
	daemon.Main(daemon.Spec{
		Name:    "consent",
		Profile: devenv.Profile{},
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&cfg.FlushEvery, "flush-every", cfg.FlushEvery, "how often access events are written to the ledger")
			fs.DurationVar(&cfg.AwaitView, "await-view", cfg.AwaitView, "how long a consent change waits for the decision view")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
			return consent.New(ctx, cfg, p)
		},
	})
}
