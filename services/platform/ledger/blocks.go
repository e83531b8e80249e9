package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Block is one committed block as a follower of the chaincode sees it: its
// number and the events of its valid transactions for this chaincode, in
// transaction order. Blocks without such events come too, so a follower
// knows exactly how far it has read.
type Block struct {
	Number uint64
	Events []Event
	// Hash is the block's header hash, as the next block names it in its
	// PreviousHash (and the chain info in its CurrentBlockHash).
	Hash, PreviousHash []byte
}

// Checkpoint is where a follower has got to: the last block it has fully
// applied. The zero Checkpoint starts from the genesis block.
type Checkpoint struct {
	// Next is the number of the next block to read.
	Next uint64 `json:"next"`
}

// Blocks streams every block from cp.Next on, in order, until ctx ends or
// the stream breaks; then the channel closes, and the caller resumes from its
// own checkpoint with a new call.
func (c *Client) Blocks(ctx context.Context, cp Checkpoint) (<-chan Block, error) {
	src, err := c.network.BlockEvents(ctx, client.WithStartBlock(cp.Next))
	if err != nil {
		return nil, fmt.Errorf("ledger: block events: %w", err)
	}
	out := make(chan Block)
	go func() {
		defer close(out)
		for b := range src {
			parsed, err := ParseBlock(b, c.cfg.Chaincode)
			if err != nil {
				// A block the follower cannot read must not be skipped
				// silently: end the stream, the caller resumes from it.
				return
			}
			select {
			case out <- parsed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// ErrMalformedBlock is a block that does not decode as Fabric blocks do.
var ErrMalformedBlock = errors.New("malformed block")

// ParseBlock extracts the chaincode's events from the valid transactions of
// a block. Invalid transactions (per the block's transaction filter) carry
// no events: their writes never happened.
func ParseBlock(b *common.Block, chaincode string) (Block, error) {
	if b.GetHeader() == nil || b.GetData() == nil {
		return Block{}, fmt.Errorf("%w: no header or data", ErrMalformedBlock)
	}
	out := Block{Number: b.GetHeader().GetNumber(), Hash: HeaderHash(b.GetHeader()), PreviousHash: b.GetHeader().GetPreviousHash()}
	txs := b.GetData().GetData()
	var filter []byte
	if md := b.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	if len(filter) != len(txs) {
		return Block{}, fmt.Errorf("%w: block %d has %d transactions and %d validation codes", ErrMalformedBlock, out.Number, len(txs), len(filter))
	}
	for i, raw := range txs {
		if peer.TxValidationCode(filter[i]) != peer.TxValidationCode_VALID {
			continue
		}
		events, err := txEvents(raw, chaincode)
		if err != nil {
			return Block{}, fmt.Errorf("block %d transaction %d: %w", out.Number, i, err)
		}
		for _, e := range events {
			e.BlockNumber = out.Number
			out.Events = append(out.Events, e)
		}
	}
	return out, nil
}

func txEvents(raw []byte, chaincode string) ([]Event, error) {
	env := &common.Envelope{}
	if err := proto.Unmarshal(raw, env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrMalformedBlock, err)
	}
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMalformedBlock, err)
	}
	ch := &common.ChannelHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), ch); err != nil {
		return nil, fmt.Errorf("%w: channel header: %w", ErrMalformedBlock, err)
	}
	if common.HeaderType(ch.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, nil // configuration blocks and the like carry no chaincode events
	}
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(payload.GetData(), tx); err != nil {
		return nil, fmt.Errorf("%w: transaction: %w", ErrMalformedBlock, err)
	}
	var events []Event
	for _, action := range tx.GetActions() {
		actionPayload := &peer.ChaincodeActionPayload{}
		if err := proto.Unmarshal(action.GetPayload(), actionPayload); err != nil {
			return nil, fmt.Errorf("%w: action payload: %w", ErrMalformedBlock, err)
		}
		prp := &peer.ProposalResponsePayload{}
		if err := proto.Unmarshal(actionPayload.GetAction().GetProposalResponsePayload(), prp); err != nil {
			return nil, fmt.Errorf("%w: proposal response: %w", ErrMalformedBlock, err)
		}
		cca := &peer.ChaincodeAction{}
		if err := proto.Unmarshal(prp.GetExtension(), cca); err != nil {
			return nil, fmt.Errorf("%w: chaincode action: %w", ErrMalformedBlock, err)
		}
		if len(cca.GetEvents()) == 0 {
			continue
		}
		ev := &peer.ChaincodeEvent{}
		if err := proto.Unmarshal(cca.GetEvents(), ev); err != nil {
			return nil, fmt.Errorf("%w: chaincode event: %w", ErrMalformedBlock, err)
		}
		if ev.GetChaincodeId() != chaincode {
			continue
		}
		events = append(events, Event{TransactionID: ch.GetTxId(), Name: ev.GetEventName(), Payload: ev.GetPayload()})
	}
	return events, nil
}

// ChainHeight is the number of blocks the organisation's peer has committed
// on the channel; the last block is ChainHeight-1.
func (c *Client) ChainHeight(ctx context.Context) (uint64, error) {
	raw, err := c.evaluateOn(ctx, "qscc", "GetChainInfo", c.cfg.Channel)
	if err != nil {
		return 0, err
	}
	info := &common.BlockchainInfo{}
	if err := proto.Unmarshal(raw, info); err != nil {
		return 0, fmt.Errorf("ledger: chain info: %w", err)
	}
	return info.GetHeight(), nil
}

// HeaderHash is a block header's hash as Fabric computes it: SHA-256 of the
// ASN.1 DER of its number, previous hash and data hash.
func HeaderHash(h *common.BlockHeader) []byte {
	der, err := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(h.GetNumber()), h.GetPreviousHash(), h.GetDataHash()})
	if err != nil { // a big.Int and two byte strings always encode
		panic(err)
	}
	sum := sha256.Sum256(der)
	return sum[:]
}

// BlockHash is the header hash of block number on the channel, as the
// organisation's peer has it.
func (c *Client) BlockHash(ctx context.Context, number uint64) ([]byte, error) {
	raw, err := c.evaluateOn(ctx, "qscc", "GetBlockByNumber", c.cfg.Channel, strconv.FormatUint(number, 10))
	if err != nil {
		return nil, err
	}
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil || b.GetHeader() == nil {
		return nil, fmt.Errorf("ledger: block %d: %w", number, ErrMalformedBlock)
	}
	return HeaderHash(b.GetHeader()), nil
}
