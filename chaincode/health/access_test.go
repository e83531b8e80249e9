package health

import (
	"errors"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"

	"healthexchange/chaincode/ledgerapi"
)

// TestAccessColumn calls every function as each organisation, with empty
// arguments: organisations outside SPEC.md's access column are refused before
// anything else, the others get as far as input validation.
func TestAccessColumn(t *testing.T) {
	p := []string{"ProvidersMSP"}
	pr := ledgerapi.MemberMSPs()
	r := []string{"ResearchMSP"}
	h := []string{"ProvidersMSP", "StMarysMSP"}
	functions := []struct {
		name    string
		allowed []string
		call    func(ctx ctxT) error
	}{
		{"patients:Register", pr, func(ctx ctxT) error { _, err := new(Patients).Register(ctx, "", ""); return err }},
		{"patients:Get", pr, func(ctx ctxT) error { _, err := new(Patients).Get(ctx, ""); return err }},
		{"patients:History", pr, func(ctx ctxT) error { _, err := new(Patients).History(ctx, ""); return err }},
		{"patients:RegisterMinor", h, func(ctx ctxT) error { _, err := new(Patients).RegisterMinor(ctx, "", ""); return err }},
		{"patients:ClaimKey", h, func(ctx ctxT) error { _, err := new(Patients).ClaimKey(ctx, "", ""); return err }},
		{"patients:RotateKey", pr, func(ctx ctxT) error { _, err := new(Patients).RotateKey(ctx, "", "", ""); return err }},
		{"patients:RequestRecovery", pr, func(ctx ctxT) error { _, err := new(Patients).RequestRecovery(ctx, "", "", ""); return err }},
		{"patients:CancelRecovery", pr, func(ctx ctxT) error { _, err := new(Patients).CancelRecovery(ctx, "", ""); return err }},
		{"patients:CompleteRecovery", pr, func(ctx ctxT) error { _, err := new(Patients).CompleteRecovery(ctx, ""); return err }},
		{"consents:Grant", pr, func(ctx ctxT) error { _, err := new(Consents).Grant(ctx, "", ""); return err }},
		{"consents:Revoke", pr, func(ctx ctxT) error { _, err := new(Consents).Revoke(ctx, "", ""); return err }},
		{"consents:Get", pr, func(ctx ctxT) error { _, err := new(Consents).Get(ctx, ""); return err }},
		{"consents:ListByPatient", pr, func(ctx ctxT) error { _, err := new(Consents).ListByPatient(ctx, "", 0, ""); return err }},
		{"consents:ListByGrantee", pr, func(ctx ctxT) error { _, err := new(Consents).ListByGrantee(ctx, "", "", 0, ""); return err }},
		{"consents:History", pr, func(ctx ctxT) error { _, err := new(Consents).History(ctx, ""); return err }},
		{"consents:Check", pr, func(ctx ctxT) error { _, err := new(Consents).Check(ctx, "", "", "", "", "", "", ""); return err }},
		{"devices:Register", pr, func(ctx ctxT) error { _, err := new(Devices).Register(ctx, "", ""); return err }},
		{"devices:Revoke", pr, func(ctx ctxT) error { _, err := new(Devices).Revoke(ctx, "", ""); return err }},
		{"devices:ListByPatient", pr, func(ctx ctxT) error { _, err := new(Devices).ListByPatient(ctx, ""); return err }},
		{"devices:Get", pr, func(ctx ctxT) error { _, err := new(Devices).Get(ctx, ""); return err }},
		{"notary:Notarize", pr, func(ctx ctxT) error { _, err := new(Notary).Notarize(ctx, "", "", "", "", 0, ""); return err }},
		{"notary:Verify", pr, func(ctx ctxT) error { _, err := new(Notary).Verify(ctx, "", ""); return err }},
		{"notary:History", pr, func(ctx ctxT) error { _, err := new(Notary).History(ctx, ""); return err }},
		{"notary:ListByPatient", pr, func(ctx ctxT) error { _, err := new(Notary).ListByPatient(ctx, "", 0, ""); return err }},
		{"notary:FindByHash", pr, func(ctx ctxT) error { _, err := new(Notary).FindByHash(ctx, ""); return err }},
		{"anchors:Anchor", p, func(ctx ctxT) error { _, err := new(Anchors).Anchor(ctx, "", "", "", "", 0, "", ""); return err }},
		{"anchors:Get", pr, func(ctx ctxT) error { _, err := new(Anchors).Get(ctx, ""); return err }},
		{"anchors:AnchorRoot", p, func(ctx ctxT) error { _, err := new(Anchors).AnchorRoot(ctx, "", "", 0, 0, "", ""); return err }},
		{"anchors:GetRoot", pr, func(ctx ctxT) error { _, err := new(Anchors).GetRoot(ctx, ""); return err }},
		{"accesslog:Append", pr, func(ctx ctxT) error { _, err := new(AccessLog).Append(ctx, ""); return err }},
		{"accesslog:ListByPatient", pr, func(ctx ctxT) error { _, err := new(AccessLog).ListByPatient(ctx, "", 0, ""); return err }},
		{"datasets:Record", r, func(ctx ctxT) error { _, err := new(Datasets).Record(ctx, ""); return err }},
		{"datasets:Get", pr, func(ctx ctxT) error { _, err := new(Datasets).Get(ctx, ""); return err }},
		{"erasures:Request", pr, func(ctx ctxT) error { _, err := new(Erasures).Request(ctx, "", ""); return err }},
		{"erasures:Complete", pr, func(ctx ctxT) error { _, err := new(Erasures).Complete(ctx, "", "", ""); return err }},
		{"erasures:Get", pr, func(ctx ctxT) error { _, err := new(Erasures).Get(ctx, ""); return err }},
	}
	for _, fn := range functions {
		for _, caller := range []fakeIdentity{providers, stmarys, pharmacy, insurer, research, outsider} {
			t.Run(fn.name+"/"+caller.mspID, func(t *testing.T) {
				_, err := run(newFixture(), caller, func(ctx ctxT) (any, error) { return nil, fn.call(ctx) })
				want := ledgerapi.ErrForbidden
				if slices.Contains(fn.allowed, caller.mspID) {
					want = ledgerapi.ErrInvalid
				}
				wantErr(t, err, want)
			})
		}
	}
}

// TestAuthorizeFailsClosed: a caller whose organisation cannot be read is refused.
func TestAuthorizeFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   cid.ClientIdentity
	}{
		{"identity error", fakeIdentity{mspID: "ProvidersMSP", err: errors.New("bad certificate")}},
		{"no identity", nil},
		{"unparsable creator", (*cid.ClientID)(nil)},
		{"empty MSP id", fakeIdentity{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(newFixture(), tc.id, func(ctx ctxT) (any, error) {
				_, err := authorize(ctx, members)
				return nil, err
			})
			wantErr(t, err, ledgerapi.ErrForbidden)
		})
	}
}
