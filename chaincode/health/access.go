package health

import (
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// Which organisations may call a function (the access column of SPEC.md).
// Patient-signed changes may be relayed by any member: the patient's
// signature, checked here, is what authorises them. Who may act on a
// patient's records or write access events is checked per call beyond this
// (notary.go, accesslog.go).
var (
	providersOnly = []string{ledgerapi.ProvidersMSP}
	researchOnly  = []string{ledgerapi.ResearchMSP}
	members       = ledgerapi.MemberMSPs()
)

// authorize lets the call through only when the caller's MSP id is one of
// allowed, and returns it. It fails closed: an identity that cannot be read
// is refused.
func authorize(ctx contractapi.TransactionContextInterface, allowed []string) (string, error) {
	id := ctx.GetClientIdentity()
	// contractapi passes a nil *cid.ClientID when it cannot parse the creator.
	if clientID, ok := id.(*cid.ClientID); id == nil || ok && clientID == nil {
		return "", fmt.Errorf("%w: the caller's identity is unavailable", ledgerapi.ErrForbidden)
	}
	mspID, err := id.GetMSPID()
	if err != nil {
		return "", fmt.Errorf("%w: cannot read the caller's organisation: %w", ledgerapi.ErrForbidden, err)
	}
	if !slices.Contains(allowed, mspID) {
		return "", fmt.Errorf("%w: organisation %q may not call this function (allowed: %v)", ledgerapi.ErrForbidden, mspID, allowed)
	}
	return mspID, nil
}

// callerName is the subject of the caller's certificate (its common name,
// else the whole subject), the client identity that submitted the
// transaction.
func callerName(ctx contractapi.TransactionContextInterface) (string, error) {
	cert, err := ctx.GetClientIdentity().GetX509Certificate()
	if err != nil || cert == nil {
		return "", fmt.Errorf("%w: cannot read the caller's certificate", ledgerapi.ErrForbidden)
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName, nil
	}
	return cert.Subject.String(), nil
}
