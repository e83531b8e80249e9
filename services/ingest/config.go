package ingest

import (
	"errors"
	"time"

	"healthexchange/wearables/mhealth"
)

// Config is what the ingest service needs beyond what every daemon has
// (services/platform/daemon); the daemon's state folder keeps the journal
// of batches not yet anchored and the devices' last sequence numbers.
type Config struct {
	// Bucket holds the readings (made if missing).
	Bucket string
	// Instance names this service's anchors on the ledger; two instances
	// sharing a ledger need different names.
	Instance string
	Limits   Limits
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Bucket: "wearables", Instance: "ingest",
		Limits: Limits{MaxSkew: mhealth.DefaultMaxSkew, MaxAge: mhealth.DefaultMaxAge,
			AnchorEvery: time.Second, AnchorMax: 10000},
	}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" || c.Instance == "" {
		errs = append(errs, errors.New("ingest config: the bucket and the instance name are both required"))
	}
	l := c.Limits
	if l.AnchorEvery <= 0 || l.MaxAge <= 0 || l.MaxSkew < 0 {
		errs = append(errs, errors.New("ingest config: every interval must be positive (the skew may be 0)"))
	}
	if l.AnchorMax < 1 {
		errs = append(errs, errors.New("ingest config: an anchor covers at least one batch"))
	}
	return errors.Join(errs...)
}
