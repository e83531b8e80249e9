package ledger

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"healthexchange/services/platform/serving"
)

// Client is a connection to the health chaincode as one organisation's client.
// It is safe for concurrent use.
type Client struct {
	cfg     Config
	conn    *grpc.ClientConn
	gateway *client.Gateway
	network *client.Network
}

// Dial connects to the organisation's peer over TLS. The connection is lazy:
// an unreachable peer shows up as ErrUnavailable on the first call.
func Dial(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	id, sign, err := loadIdentity(cfg.Org)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cfg.Org.TLSRootCert)
	if err != nil {
		return nil, fmt.Errorf("ledger: peer TLS root certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("ledger: %s holds no PEM certificate", cfg.Org.TLSRootCert)
	}
	target, spread, err := serving.Instances(cfg.Org.Peers())
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	conn, err := grpc.NewClient(target, append(spread,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, cfg.Org.PeerHostName)),
		// A peer that stops answering (paused, unplugged) is noticed within
		// seconds, not at the next write: its streams end and are retried.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}))...)
	if err != nil {
		return nil, fmt.Errorf("ledger: dial %s: %w", target, err)
	}
	gw, err := client.Connect(id,
		client.WithSign(sign),
		client.WithHash(hash.SHA256),
		client.WithClientConnection(conn),
		client.WithEvaluateTimeout(cfg.EvaluateTimeout),
		client.WithEndorseTimeout(cfg.EndorseTimeout),
		client.WithSubmitTimeout(cfg.SubmitTimeout),
		client.WithCommitStatusTimeout(cfg.CommitTimeout),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ledger: gateway: %w", err)
	}
	return &Client{cfg: cfg, conn: conn, gateway: gw, network: gw.GetNetwork(cfg.Channel)}, nil
}

func loadIdentity(org Org) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(org.UserCert)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client certificate %s: %w", org.UserCert, err)
	}
	id, err := identity.NewX509Identity(org.MSPID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client identity: %w", err)
	}
	keyPEM, err := os.ReadFile(org.UserKey)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client key %s: %w", org.UserKey, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: client key: %w", err)
	}
	return id, sign, nil
}

// MSPID is the organisation this client acts for.
func (c *Client) MSPID() string { return c.cfg.Org.MSPID }

// gatewayMSP is the organisation of the peer this client's gateway runs on.
func (c *Client) gatewayMSP() string {
	if c.cfg.Org.PeerMSPID != "" {
		return c.cfg.Org.PeerMSPID
	}
	return c.cfg.Org.MSPID
}

// Close ends the gateway session and the connection.
func (c *Client) Close() error {
	c.gateway.Close()
	return c.conn.Close()
}

// submit endorses, orders and waits for the commit of fn, then decodes its
// result into T. Only a committed, valid transaction returns nil error.
func submit[T any](ctx context.Context, c *Client, fn string, args ...string) (out T, err error) {
	ctx, span := tracer.Start(ctx, "ledger submit "+fn, trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endSpan(span, err) }()
	contract := c.network.GetContract(c.cfg.Chaincode)
	for wait := behindPeerWait; ; wait *= 2 {
		raw, err := c.submitOnce(ctx, span, contract, fn, args)
		if err == nil {
			return out, decode(fn, raw, &out)
		}
		err = classify(ctx, fn, err)
		if !behindPeer(err, c.gatewayMSP()) || wait > behindPeerMaxWait {
			return out, err
		}
		span.AddEvent("another organisation's peer is behind; retrying")
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// submitOnce endorses fn, sends it to be ordered and waits for its commit,
// each step within its configured timeout (and the caller's context). A
// transaction not committed within CommitResendAfter is sent again: the
// same signed envelope, the same transaction id. One lost on its way (the
// orderer that took it died, or the Raft leader it was forwarded to) is
// ordered then; one that was only slow is ordered twice, and the peers
// invalidate the second copy as a duplicate id: the first counts, nothing
// is applied twice. A resend refused (no Raft leader yet) is tried again at
// the next interval, until CommitTimeout.
func (c *Client) submitOnce(ctx context.Context, span trace.Span, contract *client.Contract, fn string, args []string) ([]byte, error) {
	proposal, err := contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, err
	}
	endorseCtx, cancel := context.WithTimeout(ctx, c.cfg.EndorseTimeout)
	tx, err := proposal.EndorseWithContext(endorseCtx)
	cancel()
	if err != nil {
		return nil, err
	}
	send := func() (*client.Commit, error) {
		submitCtx, cancel := context.WithTimeout(ctx, c.cfg.SubmitTimeout)
		defer cancel()
		return tx.SubmitWithContext(submitCtx)
	}
	commit, err := send()
	if err != nil {
		return nil, err
	}
	commitCtx, cancelCommit := context.WithTimeout(ctx, c.cfg.CommitTimeout)
	defer cancelCommit()
	for {
		wait, cancel := commitCtx, context.CancelFunc(func() {})
		if c.cfg.CommitResendAfter > 0 {
			wait, cancel = context.WithTimeout(commitCtx, c.cfg.CommitResendAfter)
		}
		status, err := commit.StatusWithContext(wait)
		resend := err != nil && wait.Err() != nil && commitCtx.Err() == nil
		cancel()
		switch {
		case resend:
			span.AddEvent("not committed in time; sending the same transaction again")
			if again, err := send(); err == nil {
				commit = again
			}
		case err != nil:
			return nil, err
		case !status.Successful:
			return nil, &Error{Function: fn, Kind: ErrConflict, Message: status.Code.String(), TxID: status.TransactionID}
		default:
			return tx.Result(), nil
		}
	}
}

// A peer that is behind catches up within a block's delivery; the retries
// wait 25, 50, ... 1600 ms (3.2 s in all) before the refusal is reported.
const (
	behindPeerWait    = 25 * time.Millisecond
	behindPeerMaxWait = 1600 * time.Millisecond
)

// evaluate runs fn on the organisation's peer without ordering it.
func evaluate[T any](ctx context.Context, c *Client, fn string, args ...string) (out T, err error) {
	ctx, span := tracer.Start(ctx, "ledger evaluate "+fn, trace.WithSpanKind(trace.SpanKindClient))
	defer func() { endSpan(span, err) }()
	raw, err := c.evaluateOn(ctx, c.cfg.Chaincode, fn, args...)
	if err != nil {
		return out, err
	}
	return out, decode(fn, raw, &out)
}

// evaluateOn runs fn of the named chaincode on the organisation's peer,
// bounded by EvaluateTimeout (the gateway's own default applies only to
// calls without a context): a peer that stops answering fails the call as
// unavailable within that time, whatever the caller's deadline.
func (c *Client) evaluateOn(ctx context.Context, chaincode, fn string, args ...string) ([]byte, error) {
	call, cancel := context.WithTimeout(ctx, c.cfg.EvaluateTimeout)
	defer cancel()
	raw, err := c.network.GetContract(chaincode).EvaluateWithContext(call, fn, client.WithArguments(args...))
	if err != nil {
		// Classified by the caller's context: the call's own time limit
		// running out is the peer's failure, not the caller's deadline.
		label := fn
		if chaincode != c.cfg.Chaincode {
			label = chaincode + ":" + fn // a system chaincode's (qscc)
		}
		return nil, classify(ctx, label, err)
	}
	return raw, nil
}

var tracer = otel.Tracer("healthexchange/services/platform/ledger")

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func decode(fn string, raw []byte, out any) error {
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("ledger: %s returned %d bytes that do not decode: %w", fn, len(raw), err)
	}
	return nil
}
