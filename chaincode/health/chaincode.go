// Package health is the "health" chaincode of the medical record exchange:
// the patient and device registries, consents, record notarizations, batch
// anchors, the access log, dataset releases, patient erasures, prescription
// dispenses, the health card issuers and delegations, one contract each. It
// stores pseudonymous ids, hashes and consent terms only and must never
// write health data to the ledger; every patient-initiated change is
// verified against the patient's own signature (or a delegate's, within the
// delegation the patient signed), so a service that relays it cannot forge
// it.
package health

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// NewChaincode assembles the contracts into one chaincode. Functions are
// invoked as "contract:Function", e.g. "consents:Grant".
func NewChaincode() (*contractapi.ContractChaincode, error) {
	cc, err := contractapi.NewChaincode(
		&Patients{Contract: contractapi.Contract{Name: "patients"}},
		&Consents{Contract: contractapi.Contract{Name: "consents"}},
		&Devices{Contract: contractapi.Contract{Name: "devices"}},
		&Notary{Contract: contractapi.Contract{Name: "notary"}},
		&Anchors{Contract: contractapi.Contract{Name: "anchors"}},
		&AccessLog{Contract: contractapi.Contract{Name: "accesslog"}},
		&Datasets{Contract: contractapi.Contract{Name: "datasets"}},
		&Erasures{Contract: contractapi.Contract{Name: "erasures"}},
		&Dispensing{Contract: contractapi.Contract{Name: "dispensing"}},
		&CardIssuers{Contract: contractapi.Contract{Name: "cardissuers"}},
		&Delegations{Contract: contractapi.Contract{Name: "delegations"}},
	)
	if err != nil {
		return nil, fmt.Errorf("assemble health chaincode: %w", err)
	}
	return cc, nil
}
