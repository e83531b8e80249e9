package health

import (
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Which organisations may call a function (the access column of SPEC.md).
var (
	providersOnly = []string{ledgerapi.ProvidersMSP}
	researchOnly  = []string{ledgerapi.ResearchMSP}
	members       = []string{ledgerapi.ProvidersMSP, ledgerapi.ResearchMSP}
)

// authorize lets the call through only when the caller's MSP id is one of
// allowed. It fails closed: an identity that cannot be read is refused.
func authorize(ctx contractapi.TransactionContextInterface, allowed []string) error {
	id := ctx.GetClientIdentity()
	// contractapi passes a nil *cid.ClientID when it cannot parse the creator.
	if clientID, ok := id.(*cid.ClientID); id == nil || ok && clientID == nil {
		return fmt.Errorf("%w: the caller's identity is unavailable", ledgerapi.ErrForbidden)
	}
	mspID, err := id.GetMSPID()
	if err != nil {
		return fmt.Errorf("%w: cannot read the caller's organisation: %w", ledgerapi.ErrForbidden, err)
	}
	if !slices.Contains(allowed, mspID) {
		return fmt.Errorf("%w: organisation %q may not call this function (allowed: %v)", ledgerapi.ErrForbidden, mspID, allowed)
	}
	return nil
}
