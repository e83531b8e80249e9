package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"healthexchange/chaincode/ledgerapi"
)

// maxPageSize bounds the page size of every paginated list.
const maxPageSize = 100

// txTime is the transaction's timestamp, the only clock the chaincode reads:
// every endorsing peer must compute the same result.
func txTime(ctx contractapi.TransactionContextInterface) (time.Time, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return time.Time{}, fmt.Errorf("read the transaction time: %w", err)
	}
	if ts == nil {
		return time.Time{}, errors.New("read the transaction time: the transaction has none")
	}
	return ts.AsTime().UTC(), nil
}

// getJSON decodes the value stored under key into v and reports whether the
// key was present.
func getJSON(ctx contractapi.TransactionContextInterface, key string, v any) (bool, error) {
	data, err := ctx.GetStub().GetState(key)
	if err != nil {
		return false, fmt.Errorf("read the ledger: %w", err)
	}
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode a stored %T: %w", v, err)
	}
	return true, nil
}

// putJSON stores v under key.
func putJSON(ctx contractapi.TransactionContextInterface, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	if err := ctx.GetStub().PutState(key, data); err != nil {
		return fmt.Errorf("write the ledger: %w", err)
	}
	return nil
}

// load reads the object of a type stored under id.
func load[T any](ctx contractapi.TransactionContextInterface, objectType, id string) (*T, error) {
	k, err := key(ctx, objectType, id)
	if err != nil {
		return nil, err
	}
	var v T
	found, err := getJSON(ctx, k, &v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s %s", ledgerapi.ErrNotFound, objectType, id)
	}
	return &v, nil
}

// ensureNew fails when an object of the type is already stored under id.
func ensureNew(ctx contractapi.TransactionContextInterface, objectType, id string) error {
	k, err := key(ctx, objectType, id)
	if err != nil {
		return err
	}
	data, err := ctx.GetStub().GetState(k)
	if err != nil {
		return fmt.Errorf("read the ledger: %w", err)
	}
	if data != nil {
		return fmt.Errorf("%w: %s %s", ledgerapi.ErrExists, objectType, id)
	}
	return nil
}

// store writes v as the object of a type under id and returns it.
func store[T any](ctx contractapi.TransactionContextInterface, objectType, id string, v *T) (*T, error) {
	k, err := key(ctx, objectType, id)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, k, v); err != nil {
		return nil, err
	}
	return v, nil
}

// putIndex writes an index entry; its last attribute is the id of the object
// it points to, and that id is also its value.
func putIndex(ctx contractapi.TransactionContextInterface, index string, attrs ...string) error {
	k, err := key(ctx, index, attrs...)
	if err != nil {
		return err
	}
	if err := ctx.GetStub().PutState(k, []byte(attrs[len(attrs)-1])); err != nil {
		return fmt.Errorf("write the ledger: %w", err)
	}
	return nil
}

// loader returns a function that loads the object of a type named by an
// index entry's value.
func loader[T any](ctx contractapi.TransactionContextInterface, objectType string) func([]byte) (T, error) {
	return func(id []byte) (T, error) {
		v, err := load[T](ctx, objectType, string(id))
		if err != nil {
			var zero T
			return zero, err
		}
		return *v, nil
	}
}

// decode unmarshals a stored object.
func decode[T any](data []byte) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode a stored %T: %w", v, err)
	}
	return v, nil
}

// drain maps every entry of a range, in key order, and closes the iterator.
// The result is never nil, so an empty list encodes as [].
func drain[T any](it shim.StateQueryIteratorInterface, fn func(value []byte) (T, error)) ([]T, error) {
	defer it.Close()
	items := []T{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read the ledger: %w", err)
		}
		item, err := fn(kv.Value)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, nil
}

// scan maps every entry under a partial composite key, in key order.
func scan[T any](ctx contractapi.TransactionContextInterface, objectType string, attrs []string, fn func([]byte) (T, error)) ([]T, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(objectType, attrs)
	if err != nil {
		return nil, fmt.Errorf("read the ledger: %w", err)
	}
	return drain(it, fn)
}

// page reads one page of an index and loads the objects its entries point to.
// It returns them with the bookmark of the next page, "" after the last one.
func page[T any](ctx contractapi.TransactionContextInterface, index string, attrs []string, objectType string, pageSize int, bookmark string) ([]T, string, error) {
	return pageOf(ctx, index, attrs, pageSize, bookmark, loader[T](ctx, objectType))
}

// pageOf reads one page of the entries under a partial composite key and maps
// each value with fn. It returns them with the bookmark of the next page, ""
// after the last one.
func pageOf[T any](ctx contractapi.TransactionContextInterface, objectType string, attrs []string, pageSize int, bookmark string, fn func([]byte) (T, error)) ([]T, string, error) {
	if pageSize < 1 || pageSize > maxPageSize {
		return nil, "", fmt.Errorf("%w: pageSize must be between 1 and %d", ledgerapi.ErrInvalid, maxPageSize)
	}
	prefix, err := key(ctx, objectType, attrs...)
	if err != nil {
		return nil, "", err
	}
	// A bookmark is a key of this range: any other would start the scan in
	// another list.
	if bookmark != "" && !strings.HasPrefix(bookmark, prefix) {
		return nil, "", fmt.Errorf("%w: bookmark does not belong to this list", ledgerapi.ErrInvalid)
	}
	it, meta, err := ctx.GetStub().GetStateByPartialCompositeKeyWithPagination(objectType, attrs, int32(pageSize), bookmark)
	if err != nil {
		return nil, "", fmt.Errorf("read the ledger: %w", err)
	}
	items, err := drain(it, fn)
	if err != nil {
		return nil, "", err
	}
	next := meta.GetBookmark()
	if len(items) < pageSize {
		next = ""
	}
	return items, next, nil
}

// history returns every committed version of an object, oldest first (the
// peer answers newest first), each made by fn from its transaction, time,
// whether it was a deletion, and value. An object never written is not
// found.
func history[T any](ctx contractapi.TransactionContextInterface, objectType, id string, fn func(txID, timestamp string, isDelete bool, value []byte) (T, error)) ([]T, error) {
	k, err := key(ctx, objectType, id)
	if err != nil {
		return nil, err
	}
	it, err := ctx.GetStub().GetHistoryForKey(k)
	if err != nil {
		return nil, fmt.Errorf("read the history: %w", err)
	}
	defer it.Close()
	var versions []T
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("read the history: %w", err)
		}
		v, err := fn(m.TxId, ledgerapi.FormatTime(m.Timestamp.AsTime()), m.IsDelete, m.Value)
		if err != nil {
			return nil, err
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: %s %s", ledgerapi.ErrNotFound, objectType, id)
	}
	slices.Reverse(versions)
	return versions, nil
}

// emit sets the transaction's chaincode event: name, with v as JSON. A
// transaction has one event; the last one set wins.
func emit(ctx contractapi.TransactionContextInterface, name string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the %s event: %w", name, err)
	}
	if err := ctx.GetStub().SetEvent(name, payload); err != nil {
		return fmt.Errorf("emit %s: %w", name, err)
	}
	return nil
}
