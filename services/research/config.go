package research

import (
	"errors"

	"healthexchange/chaincode/ledgerapi"
)

// Config is what the research service needs beyond what every daemon has
// (services/platform/daemon): its ledger identity is the research
// organisation's, and it decides with its own policy engine and the
// ledger's consents (no consent service).
type Config struct {
	// Bucket holds the released datasets (made if missing).
	Bucket string
	// RecordsBucket and WearablesBucket are read, never written.
	RecordsBucket, WearablesBucket string
	// TempDir is where a dataset being built is kept on disk: its rows
	// between the two passes and its files until they are stored, about 4
	// times the size of its CSV in all. Empty means the system's temporary
	// folder. The files are unlinked when made, and mode 0600.
	TempDir string
	// Instance is this instance's name: the jobs it takes are recorded as
	// its own, and at a start it resumes only those (and jobs no instance
	// took), never a job another instance is building. Instances of one
	// deployment need different names, each kept across restarts (a
	// StatefulSet's pod name, the high-availability profile's node name).
	Instance string
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{Bucket: "datasets", RecordsBucket: "records", WearablesBucket: "wearables", Instance: "research"}
}

// Validate reports every missing setting at once.
func (c Config) Validate() error {
	if c.Bucket == "" || c.RecordsBucket == "" || c.WearablesBucket == "" {
		return errors.New("research config: the datasets, records and wearables buckets are all required")
	}
	if err := ledgerapi.ValidateID("research config: instance", c.Instance); err != nil {
		return err
	}
	return nil
}
