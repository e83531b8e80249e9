package recordstore

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/fhir"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/platform/vault"
)

var tracer = otel.Tracer("healthexchange/services/store/recordstore")

// MaxSealedSize bounds what is read back: the largest resource, sealed.
const MaxSealedSize = int64(fhir.MaxResourceBytes + vault.HeaderSize + vault.TagSize)

// Sealer opens and seals patients' objects (*vault.Vault).
type Sealer interface {
	Seal(ctx context.Context, patientID, objectKey string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, patientID, objectKey string, sealed []byte) ([]byte, error)
	Erased(ctx context.Context, patientID string) (bool, error)
}

// Archive is the records bucket (see layout.go), for reading notarized
// versions back: the records service after its decision, and readers that
// decided access themselves (the research service, after checking research
// consents). It checks no consent.
type Archive struct {
	objects objectstore.Objects
	vault   Sealer
}

// NewArchive reads versions from objects, opened by v.
func NewArchive(objects objectstore.Objects, v Sealer) *Archive {
	return &Archive{objects: objects, vault: v}
}

// StoreVerbatim seals resource (the bytes n's hash is of) and writes it as
// the version n notarizes, with no validation and no notarization. It is for
// loading test and benchmark data straight into a bucket.
func (a *Archive) StoreVerbatim(ctx context.Context, n ledgerapi.Notarization, resource []byte) error {
	key := VersionKey(n.PatientID, n.RecordID, n.Version, n.SHA256)
	sealed, err := a.vault.Seal(ctx, n.PatientID, key, resource)
	if err != nil {
		return err
	}
	return a.objects.Put(ctx, key, sealed)
}

// Read fetches, opens and checks one version: the resource, as filed, whose
// hash the ledger notarized. The error wraps ErrTampered when storage does
// not hold exactly what was notarized, ErrErased for an erased patient.
func (a *Archive) Read(ctx context.Context, v ledgerapi.Notarization) ([]byte, error) {
	ctx, span := tracer.Start(ctx, "read-verify")
	defer span.End()
	key := VersionKey(v.PatientID, v.RecordID, v.Version, v.SHA256)
	sealed, err := a.objects.Get(ctx, key, MaxSealedSize)
	if errors.Is(err, objectstore.ErrNotFound) {
		if erased, eerr := a.vault.Erased(ctx, v.PatientID); eerr == nil && erased {
			return nil, fmt.Errorf("%w: record %s", ErrErased, v.RecordID)
		}
		return nil, fmt.Errorf("%w: the stored object of version %d is missing", ErrTampered, v.Version)
	}
	if errors.Is(err, objectstore.ErrTooLarge) {
		return nil, fmt.Errorf("%w: the stored object of version %d is larger than any sealed record", ErrTampered, v.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	plaintext, err := a.vault.Open(ctx, v.PatientID, key, sealed)
	switch {
	case errors.Is(err, vault.ErrErased):
		return nil, fmt.Errorf("%w: record %s", ErrErased, v.RecordID)
	case errors.Is(err, vault.ErrTampered):
		return nil, fmt.Errorf("%w: the stored object of version %d does not decrypt: %w", ErrTampered, v.Version, err)
	case err != nil:
		return nil, err
	}
	if sum := fhir.Digest(plaintext); sum != v.SHA256 {
		return nil, fmt.Errorf("%w: the stored object of version %d hashes to %s, the ledger notarized %s", ErrTampered, v.Version, sum, v.SHA256)
	}
	return plaintext, nil
}
