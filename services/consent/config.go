package consent

import (
	"errors"
	"time"

	"healthexchange/services/platform/serving"
)

// Config is what the consent service needs beyond what every daemon has
// (services/platform/daemon); the daemon's state folder keeps the decision
// view's snapshot, the access-event journal and the access requests.
type Config struct {
	// FlushEvery is how often access events are written to the ledger;
	// EventBatch is the most per transaction.
	FlushEvery time.Duration
	EventBatch int
	// Retry is the pause before following the ledger again after a failure.
	Retry time.Duration
	// SaveViewEvery bounds how often the view's snapshot is written.
	SaveViewEvery time.Duration
	// AwaitView bounds how long a consent change waits for the decision view.
	AwaitView time.Duration
	// BreakGlass bounds emergency access without consent.
	BreakGlass BreakGlassLimits
	// DecisionRate bounds the decisions one person may have asked for
	// (per issuer, organisation and subject); RequestRate the access
	// requests one person may file.
	DecisionRate, RequestRate serving.Rate
	// ExpiringNotice is how long before its end a consent is announced on
	// the patient's feed as expiring; ExpiringEvery how often they are
	// looked for.
	ExpiringNotice, ExpiringEvery time.Duration
	// SharedBucket, when set, is the bucket of the object storage where the
	// service's instances keep what they must all see: the access requests
	// and the break-glass grants. Empty: one instance, which keeps them in
	// its state folder.
	SharedBucket string
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		FlushEvery:     200 * time.Millisecond,
		EventBatch:     500,
		Retry:          time.Second,
		SaveViewEvery:  time.Second,
		AwaitView:      10 * time.Second,
		BreakGlass:     DefaultBreakGlassLimits(),
		DecisionRate:   serving.Rate{PerSecond: 50, Burst: 200},
		RequestRate:    serving.Rate{PerSecond: 0.2, Burst: 5},
		ExpiringNotice: 7 * 24 * time.Hour,
		ExpiringEvery:  time.Minute,
	}
}

// Validate reports every impossible setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.FlushEvery <= 0 || c.Retry <= 0 || c.SaveViewEvery <= 0 || c.AwaitView <= 0 || c.ExpiringNotice <= 0 || c.ExpiringEvery <= 0 {
		errs = append(errs, errors.New("consent config: every interval must be positive"))
	}
	if c.EventBatch < 1 || c.EventBatch > 500 {
		errs = append(errs, errors.New("consent config: event batch must be 1 to 500 (the chaincode's limit)"))
	}
	return errors.Join(append(errs, c.BreakGlass.Validate())...)
}
