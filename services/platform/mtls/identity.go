package mtls

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// TrustDomain is the exchange's SPIFFE trust domain: every certificate of
// the services' CA names its holder as spiffe://health-exchange/KIND/NAME.
const TrustDomain = "health-exchange"

// Kinds of holder a certificate names.
const (
	KindService = "service" // a service of the exchange (consent, records, ...)
	KindApp     = "app"     // a class of app that calls the gRPC APIs
	KindDevice  = "device"  // a wearable
)

// Identity is who holds a certificate: its kind and name.
type Identity struct {
	Kind, Name string
}

// Service is the identity of the named service.
func Service(name string) Identity { return Identity{Kind: KindService, Name: name} }

// String is "kind/name", the form caller rules use.
func (i Identity) String() string { return i.Kind + "/" + i.Name }

// URI is the identity as a certificate's URI SAN.
func (i Identity) URI() string { return "spiffe://" + TrustDomain + "/" + i.String() }

var identityName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ErrNoIdentity: the certificate names no holder of the exchange's trust
// domain, or more than one.
var ErrNoIdentity = errors.New("no exchange identity in the certificate")

// IdentityOf reads the holder from a certificate's one URI SAN of the
// exchange's trust domain. A certificate with none, several, or one that is
// malformed has no identity.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != "spiffe" || u.Host != TrustDomain {
			continue
		}
		id, err := parseIdentityPath(u)
		if err != nil {
			return Identity{}, err
		}
		found = append(found, id)
	}
	if len(found) != 1 {
		return Identity{}, fmt.Errorf("%w (%d found)", ErrNoIdentity, len(found))
	}
	return found[0], nil
}

func parseIdentityPath(u *url.URL) (Identity, error) {
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
		return Identity{}, fmt.Errorf("%w: %s is not a plain spiffe id", ErrNoIdentity, u)
	}
	kind, name, ok := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	switch {
	case !ok:
	case kind != KindService && kind != KindApp && kind != KindDevice:
	case !identityName.MatchString(name):
	default:
		return Identity{Kind: kind, Name: name}, nil
	}
	return Identity{}, fmt.Errorf("%w: %s is not spiffe://%s/{service,app,device}/NAME", ErrNoIdentity, u, TrustDomain)
}

// PeerIdentity is the identity of the client of a gRPC call, from the
// certificate it presented (mutual TLS).
func PeerIdentity(ctx context.Context) (Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Identity{}, fmt.Errorf("%w: the call has no peer", ErrNoIdentity)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return Identity{}, fmt.Errorf("%w: the caller presented no certificate", ErrNoIdentity)
	}
	return IdentityOf(info.State.PeerCertificates[0])
}

// FileIdentity is the identity named by the certificate in a PEM file.
func FileIdentity(certFile string) (Identity, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return Identity{}, fmt.Errorf("mtls: %w", err)
	}
	cert, err := firstCertificate(raw)
	if err != nil {
		return Identity{}, fmt.Errorf("mtls: %s: %w", certFile, err)
	}
	return IdentityOf(cert)
}

func firstCertificate(raw []byte) (*x509.Certificate, error) {
	for {
		block, rest := pem.Decode(raw)
		if block == nil {
			return nil, errors.New("no PEM certificate")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
		raw = rest
	}
}
