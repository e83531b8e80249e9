package ledger

import (
	"context"
	"errors"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
)

func statusErr(t *testing.T, code codes.Code, msg string, details ...*gateway.ErrorDetail) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

func TestClassify(t *testing.T) {
	live := context.Background()
	tests := map[string]struct {
		err         error
		kind        error
		reason      error // the ledgerapi sentinel, or nil
		wantMessage string
	}{
		"chaincode refusal": {
			statusErr(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
				&gateway.ErrorDetail{Address: "127.0.0.1:27051", MspId: "ProvidersMSP", Message: "chaincode response 500, stale or replayed nonce: nonce 3 <= 5"}),
			ErrRejected, ledgerapi.ErrNonce, "stale or replayed nonce: nonce 3 <= 5",
		},
		"invalidated at commit": {
			&client.CommitError{TransactionID: "tx1", Code: peer.TxValidationCode_MVCC_READ_CONFLICT},
			ErrConflict, nil, "MVCC_READ_CONFLICT",
		},
		"peer down": {
			statusErr(t, codes.Unavailable, "connection refused"), ErrUnavailable, nil, "connection refused",
		},
		"endorsement failure without a chaincode message": {
			statusErr(t, codes.Aborted, "failed to endorse",
				&gateway.ErrorDetail{Address: "127.0.0.1:27061", MspId: "ResearchMSP", Message: "chaincode registration failed"}),
			ErrUnavailable, nil, "failed to endorse",
		},
		"not a gRPC error at all": {errors.New("boom"), ErrUnavailable, nil, "boom"},
		"already classified (a commit status read after a resend) keeps its kind": {
			&Error{Function: "consents:Grant", Kind: ErrConflict, Message: "MVCC_READ_CONFLICT", TxID: "tx1"},
			ErrConflict, nil, "MVCC_READ_CONFLICT",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := classify(live, "consents:Grant", tc.err)
			var le *Error
			if !errors.As(err, &le) || !errors.Is(err, tc.kind) {
				t.Fatalf("classify = %v, want a *ledger.Error of kind %v", err, tc.kind)
			}
			if le.Message != tc.wantMessage || le.Function != "consents:Grant" {
				t.Fatalf("error %+v, want message %q", le, tc.wantMessage)
			}
			if le.Reason != tc.reason {
				t.Fatalf("error %+v, want reason %v", le, tc.reason)
			}
		})
	}

	t.Run("the caller's cancellation passes through", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := classify(ctx, "consents:Grant", statusErr(t, codes.Canceled, "canceled")); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

func TestBehindPeer(t *testing.T) {
	live := context.Background()
	refusedBy := func(msp string) error {
		return classify(live, "anchors:Anchor", statusErr(t, codes.Aborted, "failed to endorse transaction",
			&gateway.ErrorDetail{Address: "127.0.0.1:27061", MspId: msp, Message: "chaincode response 500, not found: device watch-1"}))
	}
	tests := map[string]struct {
		err  error
		want bool
	}{
		"another organisation's peer refused what ours endorsed": {refusedBy("ResearchMSP"), true},
		"our own peer refused: a real refusal":                   {refusedBy("ProvidersMSP"), false},
		"unavailable is not a refusal":                           {classify(live, "anchors:Anchor", statusErr(t, codes.Unavailable, "connection refused")), false},
		"invalidated at commit":                                  {classify(live, "anchors:Anchor", &client.CommitError{TransactionID: "tx1", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}), false},
		"endorsements that do not match": {classify(live, "consents:Grant", statusErr(t, codes.Aborted,
			"failed to assemble transaction: ProposalResponsePayloads do not match (base64): 'CiA...' vs 'CiB...'")), true},
		"endorsements not collected": {classify(live, "consents:Grant", statusErr(t, codes.Aborted,
			"failed to collect enough transaction endorsements, see attached details for more info")), true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := behindPeer(tc.err, "ProvidersMSP"); got != tc.want {
				t.Fatalf("behindPeer(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestBehindPeerThroughAnotherOrganisation: a client of an organisation
// without a peer goes through another organisation's gateway; a refusal by
// that gateway's own peer is a real refusal, one by a third peer is a peer
// behind.
func TestBehindPeerThroughAnotherOrganisation(t *testing.T) {
	live := context.Background()
	refusedBy := func(msp string) error {
		return classify(live, "notary:Notarize", statusErr(t, codes.Aborted, "failed to endorse transaction",
			&gateway.ErrorDetail{MspId: msp, Message: "chaincode response 500, forbidden: organisation StMarysMSP may not file"}))
	}
	c := &Client{cfg: Config{Org: Org{MSPID: "StMarysMSP", PeerMSPID: "ProvidersMSP"}}}
	if behindPeer(refusedBy("ProvidersMSP"), c.gatewayMSP()) {
		t.Error("the gateway peer's own refusal was taken for a peer behind")
	}
	if !behindPeer(refusedBy("ResearchMSP"), c.gatewayMSP()) {
		t.Error("a refusal by the other endorsing peer was not taken for a peer behind")
	}
}
