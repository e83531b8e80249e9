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
			fs.DurationVar(&cfg.BreakGlass.Window, "break-glass-window", cfg.BreakGlass.Window, "how long one break-glass grant lets a clinician read a patient's records")
			fs.StringVar(&cfg.SharedBucket, "shared-bucket", cfg.SharedBucket, "the object storage bucket (-store-config) where the instances keep the access requests and break-glass grants they must all see; empty for one instance, which keeps them in its state folder")
			fs.IntVar(&cfg.BreakGlass.PerDay, "break-glass-per-day", cfg.BreakGlass.PerDay, "how many break-glass grants one clinician may open in 24 hours")
			fs.Float64Var(&cfg.DecisionRate.PerSecond, "decision-rate", cfg.DecisionRate.PerSecond, "decisions per second one person may ask for, sustained")
			fs.IntVar(&cfg.DecisionRate.Burst, "decision-burst", cfg.DecisionRate.Burst, "decisions one person may ask for at once")
		},
		Build: func(ctx context.Context, p *daemon.Platform) (*daemon.Service, error) {
			return consent.New(ctx, cfg, p)
		},
	})
}
