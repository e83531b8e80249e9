package ledger

import (
	"context"
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// Event is one chaincode event of a committed transaction.
type Event struct {
	BlockNumber   uint64
	TransactionID string
	Name          string
	Payload       []byte
}

// Events streams the chaincode's events from startBlock on, in commit order,
// until ctx ends; then the channel closes.
func (c *Client) Events(ctx context.Context, startBlock uint64) (<-chan Event, error) {
	src, err := c.network.ChaincodeEvents(ctx, c.cfg.Chaincode, client.WithStartBlock(startBlock))
	if err != nil {
		return nil, fmt.Errorf("ledger: chaincode events: %w", err)
	}
	out := make(chan Event)
	go func() {
		defer close(out)
		for e := range src {
			select {
			case out <- Event{BlockNumber: e.BlockNumber, TransactionID: e.TransactionID, Name: e.EventName, Payload: e.Payload}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
