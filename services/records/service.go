package records

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"

	"healthexchange/chaincode/ledgerapi"
	consentv1 "healthexchange/proto/consent/v1"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/keylock"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/serving"
	"healthexchange/services/store/recordstore"
)

var tracer = otel.Tracer("healthexchange/services/records")

// Ledger is what the service needs of the ledger client (*ledger.Client).
type Ledger interface {
	Notarize(ctx context.Context, n ledgerapi.Notarization) (ledgerapi.Notarization, error)
	Verify(ctx context.Context, recordID, sha256Hex string) (ledgerapi.VerifyResult, error)
	RecordHistory(ctx context.Context, recordID string) ([]ledgerapi.Notarization, error)
	RecordsByPatient(ctx context.Context, patientID string, pageSize int32, bookmark string) (ledgerapi.NotarizationPage, error)
	RecordsByHash(ctx context.Context, sha256Hex string) ([]ledgerapi.Notarization, error)
	AppendAccessEvents(ctx context.Context, events []ledgerapi.AccessEvent) (ledgerapi.AppendResult, error)
	Patient(ctx context.Context, patientID string) (ledgerapi.Patient, error)
	RequestErasure(ctx context.Context, s ledger.Signed) (ledgerapi.Erasure, error)
	CompleteErasure(ctx context.Context, patientID, erasureID string, counts ledgerapi.ErasureCounts) (ledgerapi.Erasure, error)
	Erasure(ctx context.Context, patientID string) (ledgerapi.Erasure, error)
	// Dispenses are a prescription's fills, first fill first.
	Dispenses(ctx context.Context, recordID string) ([]ledgerapi.Dispense, error)
	// CardIssuers are the registered health card issuers.
	CardIssuers(ctx context.Context) ([]ledgerapi.CardIssuer, error)
	// The patient's consents and access log, served read-only as FHIR
	// Consent and AuditEvent resources.
	ConsentsByPatient(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.ConsentPage, error)
	AccessEvents(ctx context.Context, patientID string, pageSize int, bookmark string) (ledgerapi.AccessEventPage, error)
	// MSPID is the organisation the client acts for.
	MSPID() string
}

// Filer is the ledger client an organisation files records with.
type Filer interface {
	Notarize(ctx context.Context, n ledgerapi.Notarization) (ledgerapi.Notarization, error)
}

// Decider is the consent service's decision point
// (consentv1.DecisionServiceClient), called with the end user's token.
type Decider interface {
	Authorize(ctx context.Context, in *consentv1.AuthorizeRequest, opts ...grpc.CallOption) (*consentv1.AuthorizeResponse, error)
	BatchAuthorize(ctx context.Context, in *consentv1.BatchAuthorizeRequest, opts ...grpc.CallOption) (*consentv1.BatchAuthorizeResponse, error)
}

// Sealer encrypts and decrypts patients' objects, and erases a patient's
// key (*vault.Vault).
type Sealer interface {
	recordstore.Sealer
	Erase(ctx context.Context, patientID string) error
}

// Service is the records service's logic, behind the gRPC API.
type Service struct {
	ledger  Ledger
	decider Decider
	objects objectstore.Objects
	vault   Sealer
	// filers are the organisations this service files records for, by MSP
	// id: a clinician's record is notarized as the clinician's organisation,
	// which owns it (nil: every organisation files with ledger, for tests).
	filers map[string]Filer
	// dispensers are the pharmacies this service records dispenses for, by
	// MSP id (none: no one dispenses here).
	dispensers map[string]Dispenser
	// cards are the health card issuers of the organisations this service
	// files for, by MSP id (none: it issues no cards).
	cards map[string]*cardIssuer
	// cardCheckLimit bounds each client's public card checks (nil: none).
	cardCheckLimit *serving.Limiter
	// cardKeys caches the ledger's card issuer registry.
	cardKeys cardRegistry
	// wearables, if set, is the ingest service's bucket: an erasure deletes
	// the patient's objects there too.
	wearables objectstore.Objects
	log       *slog.Logger
	now       func() time.Time
	// pendingAfter is how old an unfinished put's plan must be before the
	// sweeper removes what it left.
	pendingAfter time.Duration
	// verifyLimit bounds each client's public verifications (nil: none).
	verifyLimit *serving.Limiter
	// searchLimit bounds each caller's FHIR searches (nil: none).
	searchLimit *serving.Limiter
	// notary, if set, is the local copy of the notary a get reads the
	// record's history from (nil: the ledger is asked every time).
	notary *NotaryView

	locks keylock.Locks
	// hooks let tests act at a chosen step; nil in production.
	hooks *hooks
}

// hooks are test-only points inside a put.
type hooks struct {
	// afterPlanLookup runs once a put has looked for its idempotency
	// entry, before it stores one.
	afterPlanLookup func()
	// beforeObjectPut runs after the put's plan is stored, before the
	// sealed object is written.
	beforeObjectPut func()
	// beforeNotarize runs after the sealed object is written.
	beforeNotarize func()
	// afterAuthorize runs once a get is allowed, before the object is
	// read; an error ends the get there (the service dying).
	afterAuthorize func() error
}

// NewService wires the service from its parts.
func NewService(l Ledger, d Decider, o objectstore.Objects, v Sealer, log *slog.Logger) *Service {
	return &Service{ledger: l, decider: d, objects: o, vault: v, log: log, now: time.Now, pendingAfter: time.Hour}
}

// filerFor is the ledger client that files records for the caller's
// organisation; a service that does not file for it refuses.
func (s *Service) filerFor(p auth.Principal) (Filer, error) {
	if s.filers == nil {
		return s.ledger, nil
	}
	f, ok := s.filers[p.Org]
	if !ok {
		return nil, &DeniedError{Reasons: []string{fmt.Sprintf("this records service does not file records for organisation %q", p.Org)}}
	}
	return f, nil
}
