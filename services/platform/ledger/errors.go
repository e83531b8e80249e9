package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"

	"healthexchange/chaincode/ledgerapi"
)

var (
	// ErrRejected: the chaincode refused the call (bad input, bad signature,
	// replayed nonce, unknown id, wrong organisation). Retrying will not help.
	ErrRejected = errors.New("rejected by the chaincode")
	// ErrConflict: the transaction was ordered but invalidated, usually by a
	// concurrent change of the same keys. Rebuilding and retrying may succeed.
	ErrConflict = errors.New("transaction invalidated at commit")
	// ErrUnavailable: the peer, orderer or chaincode could not be reached or
	// did not answer in time. Whether a submit committed is unknown.
	ErrUnavailable = errors.New("ledger unavailable")
)

// Error is a failed chaincode call: which function, what kind of failure
// (one of the sentinels above), the chaincode's own words, and for a refusal
// the chaincode's reason as a ledgerapi sentinel (ErrNonce, ErrSignature, ...).
// errors.Is matches both Kind and Reason.
type Error struct {
	Function string
	Kind     error
	Reason   error
	Message  string
	TxID     string
	// RejectedBy is the organisation whose peer refused, for ErrRejected.
	RejectedBy string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ledger %s: %v: %s", e.Function, e.Kind, e.Message)
}

func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Reason}
}

// refusalReasons are the chaincode's sentinels; its messages start with
// their text (chaincode/SPEC.md).
var refusalReasons = []error{
	ledgerapi.ErrInvalid, ledgerapi.ErrSignature, ledgerapi.ErrNonce, ledgerapi.ErrNotFound,
	ledgerapi.ErrExists, ledgerapi.ErrConflict, ledgerapi.ErrForbidden,
}

func refusalReason(message string) error {
	for _, r := range refusalReasons {
		if strings.HasPrefix(message, r.Error()+":") {
			return r
		}
	}
	return nil
}

const chaincodePrefix = "chaincode response 500, "

// classify turns a fabric-gateway error into an *Error. Context errors of the
// caller pass through unchanged so cancellation stays visible.
func classify(ctx context.Context, fn string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return &Error{Function: fn, Kind: ErrConflict, Message: commitErr.Code.String(), TxID: commitErr.TransactionID}
	}
	var txID string
	var txErr *client.TransactionError
	if errors.As(err, &txErr) {
		txID = txErr.TransactionID
	}
	st := status.Convert(err)
	for _, d := range st.Details() {
		if detail, ok := d.(*gateway.ErrorDetail); ok && strings.HasPrefix(detail.GetMessage(), chaincodePrefix) {
			msg := strings.TrimPrefix(detail.GetMessage(), chaincodePrefix)
			return &Error{Function: fn, Kind: ErrRejected, Reason: refusalReason(msg), Message: msg, TxID: txID,
				RejectedBy: detail.GetMspId()}
		}
	}
	// The peer, orderer or chaincode did not answer, or refused without a
	// chaincode message: callers must treat this as "unknown", and fail closed.
	return &Error{Function: fn, Kind: ErrUnavailable, Message: st.Message(), TxID: txID}
}

// behindPeer reports endorsements that disagree because a peer is a block
// behind: a refusal that came from another organisation's peer although the
// gateway's own peer (gatewayMSP's) endorsed the same proposal (the gateway
// always endorses on its local organisation first, and the chaincode is
// deterministic, so the two can only disagree when the other peer has not
// yet committed a block the gateway's peer has: a write just committed,
// then a call that reads it), or endorsements the gateway could not collect
// or match for the same reason. Such a failure is retried, not reported: an
// unendorsed transaction changed nothing.
func behindPeer(err error, gatewayMSP string) bool {
	var le *Error
	if !errors.As(err, &le) {
		return false
	}
	switch le.Kind {
	case ErrRejected:
		return le.RejectedBy != "" && le.RejectedBy != gatewayMSP
	case ErrUnavailable:
		return endorsementsDisagree(le.Message)
	}
	return false
}

// endorsementsDisagree reports the gateway's words for endorsements that
// differ between peers or could not all be collected.
func endorsementsDisagree(message string) bool {
	return strings.Contains(message, "ProposalResponsePayloads do not match") ||
		strings.Contains(message, "failed to collect enough transaction endorsements")
}
