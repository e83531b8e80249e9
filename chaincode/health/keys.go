package health

import (
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Object types of the composite keys. Objects are stored once, under their
// type and id; an index entry's value is the id of the object it points to.
// The exceptions are latestNotarizationType, a copy of each record's latest
// version, overwritten by the next, so a patient's records list in one range
// read without walking every version, and notarizationsByHash, a copy of
// every version under its hash, so a hash alone finds its records.
const (
	patientType      = "patient"      // patientId
	consentType      = "consent"      // consentId
	deviceType       = "device"       // deviceId
	anchorType       = "anchor"       // batchId
	rootAnchorType   = "anchor-root"  // anchorId
	eventType        = "event"        // eventId
	datasetType      = "dataset"      // datasetId
	notarizationType = "notarization" // recordId, version (see versionAttr)
	erasureType      = "erasure"      // patientId: one erasure per patient
	dispenseType     = "dispense"     // recordId, fill (see versionAttr)
	cardIssuerType   = "card-issuer"  // org (MSP id)
	delegationType   = "delegation"   // delegationId

	latestNotarizationType = "notarization-by-patient" // patientId, recordId: the latest version
	notarizationsByHash    = "notarization~sha256"     // sha256, recordId, version: a copy

	consentsByPatient = "consent~patient" // patientId, consentId
	consentsByGrantee = "consent~grantee" // grantee kind, grantee id, consentId
	eventsByPatient   = "event~patient"   // patientId, time (see timeAttr), eventId

	devicesByPatient      = "device~patient"      // patientId, deviceId
	delegationsByPatient  = "delegation~patient"  // patientId, delegationId
	delegationsByDelegate = "delegation~delegate" // delegateId, delegationId
)

// key builds a composite key.
func key(ctx contractapi.TransactionContextInterface, objectType string, attrs ...string) (string, error) {
	k, err := ctx.GetStub().CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", fmt.Errorf("build %s key: %w", objectType, err)
	}
	return k, nil
}

// versionAttr renders a version so that keys sort in version order.
func versionAttr(version int) string {
	return fmt.Sprintf("%019d", version)
}

// timeAttr renders a time so that keys sort in time order: fixed width, UTC,
// nanoseconds (RFC 3339 with trimmed fractions does not sort).
func timeAttr(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}
