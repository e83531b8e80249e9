package health

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// CardIssuers is the registry of the organisations that issue SMART Health
// Cards: each hospital registers its own issuer URLs and signing keys, so
// anyone can tell a card of the exchange from a card that only claims to be.
type CardIssuers struct {
	contractapi.Contract
}

// GetEvaluateTransactions lists the read-only functions.
func (*CardIssuers) GetEvaluateTransactions() []string { return []string{"Get", "List"} }

// hospitals are the organisations of kind hospital: they file records, so
// they issue cards of them.
var hospitals = orgsOfKind(ledgerapi.OrgHospital)

// Register adds an issuer URL and a public key (keyJSON, a CardKey) to the
// submitting hospital's registration, creating it if needed. Registering
// what is already there changes nothing. An organisation registers for
// itself only (its MSP comes from the transaction), at most
// MaxCardIssuerURLs URLs and MaxCardKeys keys.
func (*CardIssuers) Register(ctx contractapi.TransactionContextInterface, issuer, keyJSON string) (*ledgerapi.CardIssuer, error) {
	mspID, err := authorize(ctx, hospitals)
	if err != nil {
		return nil, err
	}
	k, keyErr := ledgerapi.Parse[ledgerapi.CardKey]([]byte(keyJSON))
	if err := errors.Join(ledgerapi.ValidateIssuerURL("issuer", issuer), keyErr); err != nil {
		return nil, err
	}
	ci := &ledgerapi.CardIssuer{Org: mspID}
	k2, err := key(ctx, cardIssuerType, mspID)
	if err != nil {
		return nil, err
	}
	if _, err := getJSON(ctx, k2, ci); err != nil {
		return nil, err
	}
	changed := false
	if !slices.Contains(ci.Issuers, issuer) {
		if len(ci.Issuers) >= ledgerapi.MaxCardIssuerURLs {
			return nil, fmt.Errorf("%w: organisation %s has %d issuer URLs, the most it may have", ledgerapi.ErrConflict, mspID, len(ci.Issuers))
		}
		ci.Issuers, changed = append(ci.Issuers, issuer), true
	}
	if !slices.ContainsFunc(ci.Keys, func(have ledgerapi.CardKey) bool { return have.Kid == k.Kid }) {
		if len(ci.Keys) >= ledgerapi.MaxCardKeys {
			return nil, fmt.Errorf("%w: organisation %s has %d card keys, the most it may have", ledgerapi.ErrConflict, mspID, len(ci.Keys))
		}
		ci.Keys, changed = append(ci.Keys, k), true
	}
	if !changed {
		return ci, nil
	}
	now, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	ci.TxID, ci.Timestamp = ctx.GetStub().GetTxID(), ledgerapi.FormatTime(now)
	if err := putJSON(ctx, k2, ci); err != nil {
		return nil, err
	}
	return ci, nil
}

// Get returns an organisation's card issuer registration.
func (*CardIssuers) Get(ctx contractapi.TransactionContextInterface, org string) (*ledgerapi.CardIssuer, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	if err := ledgerapi.ValidateID("org", org); err != nil {
		return nil, err
	}
	return load[ledgerapi.CardIssuer](ctx, cardIssuerType, org)
}

// List returns every registered card issuer, in organisation order.
func (*CardIssuers) List(ctx contractapi.TransactionContextInterface) ([]ledgerapi.CardIssuer, error) {
	if _, err := authorize(ctx, members); err != nil {
		return nil, err
	}
	return scan(ctx, cardIssuerType, nil, decode[ledgerapi.CardIssuer])
}
