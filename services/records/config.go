package records

import (
	"errors"
	"time"

	"healthexchange/services/platform/serving"
)

// Config is what the records service needs beyond what every daemon has
// (services/platform/daemon).
type Config struct {
	// Bucket holds the records (made if missing); WearablesBucket is the
	// ingest service's, where an erasure deletes the patient's objects too
	// ("" for none).
	Bucket, WearablesBucket string
	// SweepEvery is how often unfinished puts older than PendingAfter are
	// removed.
	SweepEvery   time.Duration
	PendingAfter time.Duration
	// VerifyRate bounds the public verifications one client address may
	// ask for.
	VerifyRate serving.Rate
	// SearchRate bounds the FHIR searches (records, consents, the access
	// log) one caller may ask for: each reads many records or ledger pages.
	SearchRate serving.Rate
	// CardIssuerURL is the public URL of this service that health cards
	// name as their issuer, followed by /shc/<MSP id> ("": https:// and the
	// HTTP listener's address). Every instance of the service may share it.
	CardIssuerURL string
	// CardKeyDir holds the health card issuers' signing keys, one per
	// organisation ("": card-issuers beside the vault's KEK, which every
	// instance of the service has). It must outlive the instances: each
	// new key is registered on the ledger, at most 8 per organisation.
	CardKeyDir string

	// hooks are test-only points inside a put (nil in production).
	hooks *hooks
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{Bucket: "records", WearablesBucket: "wearables", SweepEvery: 10 * time.Minute, PendingAfter: time.Hour,
		VerifyRate: serving.Rate{PerSecond: 20, Burst: 40}, SearchRate: serving.Rate{PerSecond: 5, Burst: 20}}
}

// Validate reports every missing or impossible setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("records config: the bucket is empty"))
	}
	if c.SweepEvery <= 0 || c.PendingAfter <= 0 {
		errs = append(errs, errors.New("records config: every interval must be positive"))
	}
	return errors.Join(errs...)
}
