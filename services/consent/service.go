package consent

import (
	"context"
	"log/slog"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/durable"
	"healthexchange/services/platform/follow"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/serving"
)

// ledgerAPI is the part of the ledger client the service uses.
type ledgerAPI interface {
	follow.Source
	eventSink
	RegisterPatient(ctx context.Context, s ledger.Signed) (ledgerapi.Patient, error)
	Patient(ctx context.Context, patientID string) (ledgerapi.Patient, error)
	PatientHistory(ctx context.Context, patientID string) ([]ledgerapi.PatientVersion, error)
	RotateKey(ctx context.Context, k ledger.KeyChange) (ledgerapi.Patient, error)
	RequestRecovery(ctx context.Context, k ledger.KeyChange) (ledgerapi.Patient, error)
	CancelRecovery(ctx context.Context, s ledger.Signed) (ledgerapi.Patient, error)
	CompleteRecovery(ctx context.Context, patientID string) (ledgerapi.Patient, error)
	GrantConsent(ctx context.Context, s ledger.Signed) (ledgerapi.Consent, error)
	RevokeConsent(ctx context.Context, s ledger.Signed) (ledgerapi.Consent, error)
	GrantDelegation(ctx context.Context, s ledger.Signed) (ledgerapi.Delegation, error)
	RevokeDelegation(ctx context.Context, s ledger.Signed) (ledgerapi.Delegation, error)
	Delegation(ctx context.Context, delegationID string) (ledgerapi.Delegation, error)
	DelegationsByPatient(ctx context.Context, patientID string) ([]ledgerapi.Delegation, error)
	DelegationsByDelegate(ctx context.Context, delegateID string) ([]ledgerapi.Delegation, error)
	RegisterDevice(ctx context.Context, s ledger.Signed) (ledgerapi.Device, error)
	DevicesByPatient(ctx context.Context, patientID string) ([]ledgerapi.Device, error)
	RevokeDevice(ctx context.Context, s ledger.Signed) (ledgerapi.Device, error)
	ConsentsByPatient(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error)
	AccessEvents(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error)
}

// decider is the policy engine.
type decider interface {
	Decide(ctx context.Context, in policy.Input) (policy.Decision, error)
}

// service holds what both APIs share.
type service struct {
	ledger   ledgerAPI
	view     *View
	policy   decider
	journal  *durable.Journal[ledgerapi.AccessEvent]
	shipper  *shipper
	requests *requestStore
	now      func() time.Time
	log      *slog.Logger
	// awaitView bounds how long a consent change waits for the view to
	// apply it before answering.
	awaitView time.Duration
	// breakGlassKey keys the hashes of break-glass reasons on the ledger.
	breakGlassKey []byte
	// verifier vouches for the people the enforcement points ask about.
	verifier *auth.Verifier
	// breakGlass limits emergency access and seals its reasons; feed is
	// the patients' notifications.
	breakGlass *breakGlass
	feed       *feed
	// decisionLimit and requestLimit bound each person's decisions and
	// access requests (nil: no limit, in unit tests).
	decisionLimit, requestLimit *serving.Limiter
	// hospitals are the ledger as each hospital this service holds the
	// identity of, by MSP id: minors are registered as the clinician's own.
	hospitals map[string]hospitalLedger
}
