package ledger

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope builds a transaction as Fabric commits it, with one chaincode
// event (or none when name is "").
func envelope(t testing.TB, typ common.HeaderType, txID, chaincode, name, payload string) []byte {
	t.Helper()
	action := &peer.ChaincodeAction{}
	if name != "" {
		action.Events = marshal(t, &peer.ChaincodeEvent{ChaincodeId: chaincode, TxId: txID, EventName: name, Payload: []byte(payload)})
	}
	tx := &peer.Transaction{Actions: []*peer.TransactionAction{{
		Payload: marshal(t, &peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{
			ProposalResponsePayload: marshal(t, &peer.ProposalResponsePayload{Extension: marshal(t, action)}),
		}}),
	}}}
	return marshal(t, &common.Envelope{Payload: marshal(t, &common.Payload{
		Header: &common.Header{ChannelHeader: marshal(t, &common.ChannelHeader{Type: int32(typ), TxId: txID})},
		Data:   marshal(t, tx),
	})})
}

func block(number uint64, txs [][]byte, codes ...peer.TxValidationCode) *common.Block {
	filter := make([]byte, len(codes))
	for i, c := range codes {
		filter[i] = byte(c)
	}
	md := make([][]byte, common.BlockMetadataIndex_TRANSACTIONS_FILTER+1)
	md[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	return &common.Block{
		Header:   &common.BlockHeader{Number: number},
		Data:     &common.BlockData{Data: txs},
		Metadata: &common.BlockMetadata{Metadata: md},
	}
}

func TestParseBlock(t *testing.T) {
	const cc = "health"
	valid, invalid := peer.TxValidationCode_VALID, peer.TxValidationCode_MVCC_READ_CONFLICT
	tests := map[string]struct {
		block *common.Block
		want  Block
		err   error
	}{
		"events of valid transactions, in order": {
			block: block(7, [][]byte{
				envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx1", cc, "ConsentGranted", `{"a":1}`),
				envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx2", cc, "ConsentRevoked", `{"a":2}`),
			}, valid, valid),
			want: Block{Number: 7, Events: []Event{
				{BlockNumber: 7, TransactionID: "tx1", Name: "ConsentGranted", Payload: []byte(`{"a":1}`)},
				{BlockNumber: 7, TransactionID: "tx2", Name: "ConsentRevoked", Payload: []byte(`{"a":2}`)},
			}},
		},
		"an invalidated transaction's event never happened": {
			block: block(8, [][]byte{
				envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx1", cc, "ConsentRevoked", `{}`),
			}, invalid),
			want: Block{Number: 8},
		},
		"other chaincodes, no events and config transactions are skipped": {
			block: block(9, [][]byte{
				envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx1", "other", "ConsentGranted", `{}`),
				envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx2", cc, "", ""),
				envelope(t, common.HeaderType_CONFIG, "", cc, "", ""),
			}, valid, valid, valid),
			want: Block{Number: 9},
		},
		"validation codes missing": {
			block: block(10, [][]byte{envelope(t, common.HeaderType_ENDORSER_TRANSACTION, "tx1", cc, "X", "")}),
			err:   ErrMalformedBlock,
		},
		"garbage transaction": {
			block: block(11, [][]byte{{0xff, 0x01}}, valid),
			err:   ErrMalformedBlock,
		},
		"no header": {block: &common.Block{}, err: ErrMalformedBlock},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBlock(tc.block, cc)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil {
				if want := HeaderHash(tc.block.GetHeader()); !bytes.Equal(got.Hash, want) || !bytes.Equal(got.PreviousHash, tc.block.GetHeader().GetPreviousHash()) {
					t.Fatalf("hashes %x, %x; want the header's hash %x and previous hash", got.Hash, got.PreviousHash, want)
				}
				got.Hash, got.PreviousHash = nil, nil
			}
			if diff := cmp.Diff(tc.want, got); tc.err == nil && diff != "" {
				t.Fatalf("block (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseBlock: any bytes, read as a block, parse or fail; never panic.
func FuzzParseBlock(f *testing.F) {
	f.Add(marshal(f, block(1, [][]byte{envelope(f, common.HeaderType_ENDORSER_TRANSACTION, "tx", "health", "E", "p")}, peer.TxValidationCode_VALID)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		b := &common.Block{}
		if proto.Unmarshal(raw, b) != nil {
			return
		}
		got, err := ParseBlock(b, "health")
		if err == nil && len(got.Events) > len(b.GetData().GetData()) {
			t.Fatalf("%d events from %d transactions", len(got.Events), len(b.GetData().GetData()))
		}
	})
}
