package health

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeStub is an in-memory ledger with the semantics the chaincode relies on:
// a transaction reads committed state only; its writes and its event take
// effect when it commits; range scans run in key order; and every committed
// write enters the key's history, newest first as on a peer.
type fakeStub struct {
	shim.ChaincodeStubInterface // methods the chaincode must not use: calling one panics

	state   map[string][]byte
	history map[string][]*queryresult.KeyModification
	events  []*peer.ChaincodeEvent // committed, in order

	// The transaction in progress.
	txID    string
	now     time.Time
	args    [][]byte
	creator []byte
	writes  map[string][]byte
	event   *peer.ChaincodeEvent
	// paginated is set once the transaction ran a paginated query: as on a
	// peer, it may then write nothing (and a paginated query after a write
	// is refused too).
	paginated bool
}

func newFakeStub() *fakeStub {
	return &fakeStub{state: map[string][]byte{}, history: map[string][]*queryresult.KeyModification{}}
}

// begin starts a transaction with its id, timestamp and arguments.
func (s *fakeStub) begin(txID string, now time.Time, args ...string) {
	s.txID, s.now, s.writes, s.event, s.paginated = txID, now, map[string][]byte{}, nil, false
	s.args = nil
	for _, a := range args {
		s.args = append(s.args, []byte(a))
	}
}

// commit applies the transaction's writes and event.
func (s *fakeStub) commit() {
	for k, v := range s.writes {
		s.state[k] = v
		m := &queryresult.KeyModification{TxId: s.txID, Value: v, Timestamp: timestamppb.New(s.now)}
		s.history[k] = append([]*queryresult.KeyModification{m}, s.history[k]...)
	}
	if s.event != nil {
		s.events = append(s.events, s.event)
	}
}

func (s *fakeStub) GetTxID() string { return s.txID }

func (s *fakeStub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return timestamppb.New(s.now), nil
}

func (s *fakeStub) GetArgs() [][]byte { return s.args }

func (s *fakeStub) GetStringArgs() []string {
	var out []string
	for _, a := range s.GetArgs() {
		out = append(out, string(a))
	}
	return out
}

func (s *fakeStub) GetFunctionAndParameters() (string, []string) {
	args := s.GetStringArgs()
	if len(args) == 0 {
		return "", nil
	}
	return args[0], args[1:]
}

func (s *fakeStub) GetCreator() ([]byte, error) { return s.creator, nil }

func (s *fakeStub) GetState(key string) ([]byte, error) { return s.state[key], nil }

func (s *fakeStub) PutState(key string, value []byte) error {
	if key == "" || len(value) == 0 {
		return errors.New("fake stub: empty key or value (an empty value deletes on a peer)")
	}
	if s.paginated {
		return errors.New("fake stub: a transaction that ran a paginated query cannot write (a peer refuses it)")
	}
	s.writes[key] = slices.Clone(value)
	return nil
}

func (s *fakeStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("fake stub: empty event name")
	}
	s.event = &peer.ChaincodeEvent{TxId: s.txID, EventName: name, Payload: payload}
	return nil
}

func (s *fakeStub) CreateCompositeKey(objectType string, attrs []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attrs)
}

func (s *fakeStub) GetStateByPartialCompositeKey(objectType string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	prefix, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return nil, err
	}
	return &fakeIterator[*queryresult.KV]{items: s.scan(prefix, prefix)}, nil
}

// GetStateByPartialCompositeKeyWithPagination pages like LevelDB: the bookmark
// is the key to start from, and "" once the range is exhausted.
func (s *fakeStub) GetStateByPartialCompositeKeyWithPagination(objectType string, attrs []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if len(s.writes) > 0 {
		return nil, nil, errors.New("fake stub: a paginated query in a transaction that wrote (a peer refuses it)")
	}
	s.paginated = true
	prefix, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return nil, nil, err
	}
	start := prefix
	if bookmark != "" {
		start = bookmark
	}
	kvs, next := s.scan(prefix, start), ""
	if len(kvs) > int(pageSize) {
		next = kvs[pageSize].Key
		kvs = kvs[:pageSize]
	}
	meta := &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs)), Bookmark: next}
	return &fakeIterator[*queryresult.KV]{items: kvs}, meta, nil
}

// scan returns the committed entries under prefix from key start on, in key order.
func (s *fakeStub) scan(prefix, start string) []*queryresult.KV {
	var kvs []*queryresult.KV
	for k, v := range s.state {
		if strings.HasPrefix(k, prefix) && k >= start {
			kvs = append(kvs, &queryresult.KV{Key: k, Value: v})
		}
	}
	slices.SortFunc(kvs, func(a, b *queryresult.KV) int { return strings.Compare(a.Key, b.Key) })
	return kvs
}

func (s *fakeStub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	return &fakeIterator[*queryresult.KeyModification]{items: s.history[key]}, nil
}

// fakeIterator serves both state and history query results.
type fakeIterator[T any] struct {
	items  []T
	closed bool
}

func (it *fakeIterator[T]) HasNext() bool { return !it.closed && len(it.items) > 0 }

func (it *fakeIterator[T]) Next() (T, error) {
	if !it.HasNext() {
		var zero T
		return zero, errors.New("fake iterator: no next item")
	}
	item := it.items[0]
	it.items = it.items[1:]
	return item, nil
}

func (it *fakeIterator[T]) Close() error { it.closed = true; return nil }

// fakeIdentity is a caller of an organisation, with a certificate whose
// subject is name; err makes reading it fail.
type fakeIdentity struct {
	cid.ClientIdentity // methods the chaincode must not use: calling one panics
	mspID              string
	name               string
	err                error
}

func (id fakeIdentity) GetMSPID() (string, error) { return id.mspID, id.err }

func (id fakeIdentity) GetX509Certificate() (*x509.Certificate, error) {
	if id.err != nil {
		return nil, id.err
	}
	return &x509.Certificate{Subject: pkix.Name{CommonName: id.name}}, nil
}

// fixture runs transactions against a fake ledger, one second apart unless a
// test sets clock.
type fixture struct {
	stub  *fakeStub
	clock time.Time
	txs   int
}

func newFixture() *fixture {
	return &fixture{stub: newFakeStub(), clock: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// nextTx starts a transaction: a fresh id, the clock's time, then the clock
// moves on a second.
func (f *fixture) nextTx(args ...string) {
	f.txs++
	f.stub.begin(fmt.Sprintf("tx%03d", f.txs), f.clock, args...)
	f.clock = f.clock.Add(time.Second)
}

// lastTx is the id of the most recent transaction.
func (f *fixture) lastTx() string { return f.stub.txID }

// run executes fn as one transaction by a caller of the identity: as on a
// peer, its writes commit only when fn succeeds.
func run[T any](f *fixture, id cid.ClientIdentity, fn func(contractapi.TransactionContextInterface) (T, error)) (T, error) {
	f.nextTx()
	ctx := &contractapi.TransactionContext{}
	ctx.SetStub(f.stub)
	ctx.SetClientIdentity(id)
	v, err := fn(ctx)
	if err == nil {
		f.stub.commit()
	}
	return v, err
}

// Callers of each organisation.
var (
	providers = fakeIdentity{mspID: "ProvidersMSP", name: "User1@providers.hx.local"}
	stmarys   = fakeIdentity{mspID: "StMarysMSP", name: "User1@stmarys.hx.local"}
	pharmacy  = fakeIdentity{mspID: "PharmacyMSP", name: "User1@pharmacy.hx.local"}
	insurer   = fakeIdentity{mspID: "InsurerMSP", name: "User1@insurer.hx.local"}
	research  = fakeIdentity{mspID: "ResearchMSP", name: "User1@research.hx.local"}
	outsider  = fakeIdentity{mspID: "OtherMSP", name: "User1@other.example"}
)

// selfSigned returns a PEM certificate and key for a test identity or server.
func selfSigned(t *testing.T, commonName string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: commonName},
		DNSNames:     []string{commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
