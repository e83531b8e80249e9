package health

import (
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Datasets records the release of anonymized research datasets and the
// consents each was built from.
type Datasets struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*Datasets) GetEvaluateTransactions() []string { return []string{"Get"} }

// Record records a dataset release (a DatasetReleaseRequest as JSON). Every
// consent it cites must be in force now, allow research, and be given to
// ResearchMSP or to the release's study; cohortSize must be the number of
// distinct patients those consents belong to.
func (*Datasets) Record(ctx contractapi.TransactionContextInterface, releaseJSON string) (*ledgerapi.DatasetRelease, error) {
	if _, err := authorize(ctx, researchOnly); err != nil {
		return nil, err
	}
	req, err := ledgerapi.Parse[ledgerapi.DatasetReleaseRequest]([]byte(releaseJSON))
	if err != nil {
		return nil, err
	}
	if err := ensureNew(ctx, datasetType, req.DatasetID); err != nil {
		return nil, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	patients := make(map[string]bool)
	for _, id := range req.ConsentIDs {
		consent, err := load[ledgerapi.Consent](ctx, consentType, id)
		if err != nil {
			return nil, err
		}
		reason, err := inForce(consent, now)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			return nil, fmt.Errorf("%w: %s", ledgerapi.ErrForbidden, reason)
		}
		if !slices.Contains(consent.Purposes, ledgerapi.PurposeResearch) {
			return nil, fmt.Errorf("%w: consent %s does not allow purpose %s", ledgerapi.ErrForbidden, id, ledgerapi.PurposeResearch)
		}
		if !forRelease(consent.Grantee, req.StudyID) {
			return nil, fmt.Errorf("%w: consent %s is not given to %s or to study %s", ledgerapi.ErrForbidden, id, ledgerapi.ResearchMSP, req.StudyID)
		}
		patients[consent.PatientID] = true
	}
	if req.CohortSize != len(patients) {
		return nil, fmt.Errorf("%w: cohortSize is %d but the consents belong to %d distinct patients", ledgerapi.ErrInvalid, req.CohortSize, len(patients))
	}
	return store(ctx, datasetType, req.DatasetID, &ledgerapi.DatasetRelease{
		DatasetReleaseRequest: req,
		ConsentSetSHA256:      ledgerapi.ConsentSetSHA256(req.ConsentIDs),
		Timestamp:             ledgerapi.FormatTime(now),
		TxID:                  ctx.GetStub().GetTxID(),
	})
}

// forRelease reports whether a consent's grantee lets a release for the study
// cite it: research in general (ResearchMSP) or that study.
func forRelease(g ledgerapi.Grantee, studyID string) bool {
	return g == ledgerapi.Grantee{Kind: ledgerapi.GranteeOrg, ID: ledgerapi.ResearchMSP} ||
		g == ledgerapi.Grantee{Kind: ledgerapi.GranteeStudy, ID: studyID}
}

// Get returns a dataset release.
func (*Datasets) Get(ctx contractapi.TransactionContextInterface, datasetID string) (*ledgerapi.DatasetRelease, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("datasetId", datasetID); err != nil {
		return nil, err
	}
	return load[ledgerapi.DatasetRelease](ctx, datasetType, datasetID)
}
