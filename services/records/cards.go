package records

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/shc"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/pep"
)

// SMART Health Cards: a patient asks for a verifiable copy of an
// Immunization record, signed by the organisation that filed it; anyone can
// check it against the issuer's published keys and the ledger.

// CardRegistrar is the ledger client an organisation registers its card
// issuer with.
type CardRegistrar interface {
	RegisterCardIssuer(ctx context.Context, issuer string, k ledgerapi.CardKey) (ledgerapi.CardIssuer, error)
}

// cardIssuer is one organisation's issuer: its URL (a card's iss), its
// signing key, and the ledger client that registers them.
type cardIssuer struct {
	org, url string
	key      *ecdsa.PrivateKey
	jwk      shc.JWK
	ledger   CardRegistrar

	mu         sync.Mutex
	registered bool
}

// notarySystem is the identifier system of a card's Immunization that names
// the notarized record it copies: "<record id>/<version>/<sha256>" (a
// record id has no "/").
const notarySystem = "urn:healthexchange:notary"

// immunizationCard is the SMART Health Card type of a vaccination.
const immunizationCard = "https://smarthealth.cards#immunization"

// issuerPath is where an organisation's issuer lives on this service: its
// cards' iss is the service's URL and this path, and its keys are at
// iss/.well-known/jwks.json.
func issuerPath(org string) string { return "/shc/" + org }

// loadCardIssuers loads (or makes, the first time) the signing key of each
// hospital this service files for, in dir: one PKCS #8 file per
// organisation, mode 0600, made exclusively so that two instances starting
// at once end up with the same key.
func loadCardIssuers(dir, baseURL string, ledgers map[string]CardRegistrar) (map[string]*cardIssuer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("records: the card issuers' folder: %w", err)
	}
	out := map[string]*cardIssuer{}
	for org, l := range ledgers {
		if o, ok := ledgerapi.OrganisationOf(org); !ok || o.Kind != ledgerapi.OrgHospital {
			continue
		}
		key, err := loadCardKey(filepath.Join(dir, org+".pem"))
		if err != nil {
			return nil, err
		}
		jwk, err := shc.PublicJWK(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		url := strings.TrimSuffix(baseURL, "/") + issuerPath(org)
		if err := ledgerapi.ValidateIssuerURL("card issuer URL", url); err != nil {
			return nil, err
		}
		out[org] = &cardIssuer{org: org, url: url, key: key, jwk: jwk, ledger: l}
	}
	return out, nil
}

func loadCardKey(path string) (*ecdsa.PrivateKey, error) {
	for attempt := 0; attempt < 2; attempt++ {
		data, err := os.ReadFile(path)
		if err == nil {
			block, _ := pem.Decode(data)
			if block == nil || block.Type != "PRIVATE KEY" {
				return nil, fmt.Errorf("records: card key %s: not a PEM private key", path)
			}
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("records: card key %s: %w", path, err)
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("records: card key %s: not an ECDSA key", path)
			}
			return ec, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("records: card key: %w", err)
		}
		key, err := shc.NewKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		// Written whole to a file of its own, then linked into place: a
		// link fails if the name exists, so the first instance wins, and no
		// instance ever reads a key half written.
		f, err := os.CreateTemp(filepath.Dir(path), ".card-key-*")
		if err != nil {
			return nil, fmt.Errorf("records: card key: %w", err)
		}
		tmp := f.Name()
		_, werr := f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		err = errors.Join(werr, f.Chmod(0o600), f.Sync(), f.Close())
		if err == nil {
			err = os.Link(tmp, path)
		}
		os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			continue // another instance made it first: read theirs
		}
		if err != nil {
			return nil, fmt.Errorf("records: card key: %w", err)
		}
		return key, nil
	}
	return nil, fmt.Errorf("records: card key %s: made and gone", path)
}

// register puts the issuer's URL and key on the ledger, once; it says
// whether this call did.
func (c *cardIssuer) register(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.registered {
		return false, nil
	}
	if _, err := c.ledger.RegisterCardIssuer(ctx, c.url, ledgerapi.CardKey{Kid: c.jwk.Kid, X: c.jwk.X, Y: c.jwk.Y}); err != nil {
		return false, fmt.Errorf("register the card issuer of %s: %w", c.org, err)
	}
	c.registered = true
	return true, nil
}

// JWKS is the public keys of the issuers of this service (one
// organisation's, or all of them for org ""): each issuer's own key, and
// every key its organisation registered on the ledger, so that every
// instance of the service, whichever key it signs with, publishes the same
// set. The registry is read at most once per cardRegistryTTL; a ledger that
// does not answer leaves the own keys alone, never none.
func (s *Service) JWKS(ctx context.Context, org string) (shc.JWKS, bool) {
	out := shc.JWKS{Keys: []shc.JWK{}}
	if org != "" && s.cards[org] == nil {
		return out, false
	}
	registered := s.registeredCardKeys(ctx)
	for _, name := range slices.Sorted(maps.Keys(s.cards)) {
		if org != "" && org != name {
			continue
		}
		out.Keys = append(out.Keys, s.cards[name].jwk)
		for _, k := range registered[name] {
			if k.Kid != s.cards[name].jwk.Kid {
				out.Keys = append(out.Keys, shc.JWK{Kty: "EC", Crv: "P-256", Use: "sig", Alg: "ES256", Kid: k.Kid, X: k.X, Y: k.Y})
			}
		}
	}
	return out, true
}

// cardRegistryTTL is how long the registry is used before it is read
// again; cardRegistryMinAge is how old it must be before a check that found
// no issuer or key has it read again (so that cards naming made-up issuers,
// sent by anyone, cost at most one ledger read per interval).
const (
	cardRegistryTTL    = time.Minute
	cardRegistryMinAge = 5 * time.Second
)

// cardRegistry caches the ledger's card issuer registry, for the JWKS and
// the public check (each would otherwise read the ledger on every request
// of anyone).
type cardRegistry struct {
	mu      sync.Mutex
	at      time.Time
	issuers []ledgerapi.CardIssuer
}

// cardIssuers is the registry, read again when older than cardRegistryTTL,
// or than cardRegistryMinAge when fresh is set (a check that found no
// issuer or no key: the one it names may have registered since). A ledger
// that does not answer leaves the last copy, which is nil at first.
func (s *Service) cardIssuers(ctx context.Context, fresh bool) ([]ledgerapi.CardIssuer, error) {
	c := &s.cardKeys
	c.mu.Lock()
	defer c.mu.Unlock()
	maxAge := cardRegistryTTL
	if fresh {
		maxAge = cardRegistryMinAge
	}
	if !c.at.IsZero() && s.now().Sub(c.at) < maxAge {
		return c.issuers, nil
	}
	issuers, err := s.ledger.CardIssuers(ctx)
	if err != nil {
		return c.issuers, err
	}
	c.issuers, c.at = issuers, s.now()
	return issuers, nil
}

// registeredCardKeys are the registry's keys by organisation.
func (s *Service) registeredCardKeys(ctx context.Context) map[string][]ledgerapi.CardKey {
	issuers, err := s.cardIssuers(ctx, false)
	if err != nil {
		s.log.WarnContext(ctx, "card issuer registry unreadable; serving this instance's keys", "err", err)
	}
	out := map[string][]ledgerapi.CardKey{}
	for _, ci := range issuers {
		out[ci.Org] = ci.Keys
	}
	return out
}

// Identity claims a patient may put on a card.
var cardIdentityClaims = []string{"name", "birthDate"}

// HealthCard is a card as issued: the JWS, its QR-ready numeric form, who
// issued it and the FHIR bundle it holds.
type HealthCard struct {
	JWS, Numeric, Issuer, Org, Kid string
	Bundle                         json.RawMessage
}

// IssueCard makes a SMART Health Card of the latest version of an
// Immunization record, for its patient alone, signed by the organisation
// that filed it. The card holds the vaccination (status, vaccine, date, lot
// number, the issuer's name), the notarized record it copies, and of the
// patient only the identity claims asked for (name, birthDate), taken from
// the patient's Patient record.
func (s *Service) IssueCard(ctx context.Context, p auth.Principal, patientID, recordID string, identity []string) (HealthCard, error) {
	ctx, span := tracer.Start(ctx, "issue-card")
	defer span.End()
	errs := []error{ledgerapi.ValidateID("patient_id", patientID), ledgerapi.ValidateID("record_id", recordID)}
	for _, c := range identity {
		if !slices.Contains(cardIdentityClaims, c) {
			errs = append(errs, fmt.Errorf("identity claims are %v", cardIdentityClaims))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return HealthCard{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.Role != auth.RolePatient || p.Subject != patientID {
		return HealthCard{}, &DeniedError{Reasons: []string{"only the patient asks for a health card of their records"}}
	}
	versions, err := s.history(ctx, patientID, recordID)
	if err != nil {
		return HealthCard{}, err
	}
	latest := versions[len(versions)-1]
	if _, err := s.authorize(ctx, p, pep.Access{Action: actionRead, Purpose: defaultPurpose, PatientID: patientID, Category: latest.Category, RecordID: recordID}); err != nil {
		return HealthCard{}, err
	}
	if latest.Category != "immunizations" {
		return HealthCard{}, fmt.Errorf("%w: record %s is not a vaccination: only Immunization records make health cards", ErrInvalid, recordID)
	}
	issuer := s.cards[latest.Org]
	if issuer == nil {
		return HealthCard{}, fmt.Errorf("%w: record %s was filed by %s, which this service does not issue cards for", ErrInvalid, recordID, latest.Org)
	}
	raw, err := s.read(ctx, latest)
	if err != nil {
		return HealthCard{}, err
	}
	imm, err := cardImmunization(raw, latest, issuer.org)
	if err != nil {
		return HealthCard{}, err
	}
	patient := map[string]any{"resourceType": "Patient"}
	if len(identity) > 0 {
		if patient, err = s.cardPatient(ctx, patientID, identity); err != nil {
			return HealthCard{}, err
		}
	}
	bundle, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{
		map[string]any{"fullUrl": "resource:0", "resource": patient},
		map[string]any{"fullUrl": "resource:1", "resource": imm},
	}})
	if err != nil {
		return HealthCard{}, err
	}
	registered, err := issuer.register(ctx)
	if err != nil {
		return HealthCard{}, err
	}
	if registered { // this instance's copy of the registry lacks the key now
		s.cardKeys.mu.Lock()
		s.cardKeys.at = time.Time{}
		s.cardKeys.mu.Unlock()
	}
	jws, err := shc.Issue(issuer.key, issuer.url, s.now(), []string{shc.HealthCardType, immunizationCard}, bundle)
	if err != nil {
		return HealthCard{}, err
	}
	numeric, err := shc.Numeric(jws)
	if err != nil {
		return HealthCard{}, err
	}
	return HealthCard{JWS: jws, Numeric: numeric, Issuer: issuer.url, Org: issuer.org, Kid: issuer.jwk.Kid, Bundle: bundle}, nil
}

// cardImmunization is the card's copy of an Immunization: what a verifier
// needs and nothing else (the SMART Health Cards data minimization), and
// the notarized record it copies.
func cardImmunization(raw []byte, v ledgerapi.Notarization, org string) (map[string]any, error) {
	var r map[string]json.RawMessage
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: the stored record is not a JSON object", ErrInvalid)
	}
	var typ, status string
	_ = json.Unmarshal(r["resourceType"], &typ)
	_ = json.Unmarshal(r["status"], &status)
	if typ != "Immunization" {
		return nil, fmt.Errorf("%w: record %s is not an Immunization", ErrInvalid, v.RecordID)
	}
	if status != "completed" {
		return nil, fmt.Errorf("%w: record %s is a vaccination that is not completed (status %s): it makes no card", ErrInvalid, v.RecordID, status)
	}
	out := map[string]any{"resourceType": "Immunization", "status": status, "patient": map[string]string{"reference": "resource:0"},
		"identifier": []any{map[string]string{"system": notarySystem, "value": v.RecordID + "/" + strconv.Itoa(v.Version) + "/" + v.SHA256}}}
	for _, k := range []string{"vaccineCode", "occurrenceDateTime", "occurrenceString", "lotNumber"} {
		if val, ok := r[k]; ok {
			out[k] = val
		}
	}
	if o, ok := ledgerapi.OrganisationOf(org); ok {
		out["performer"] = []any{map[string]any{"actor": map[string]string{"display": o.Name}}}
	}
	return out, nil
}

// cardPatient is the patient as the card names them: the identity claims
// asked for, from the latest version of the patient's Patient record.
func (s *Service) cardPatient(ctx context.Context, patientID string, identity []string) (map[string]any, error) {
	bookmark := ""
	const maxPages = 20
	for page := 0; page < maxPages; page++ {
		items, err := s.ledger.RecordsByPatient(ctx, patientID, 100, bookmark)
		if err != nil {
			return nil, err
		}
		for _, n := range items.Items {
			if n.Category != "demographics" {
				continue
			}
			raw, err := s.read(ctx, n)
			if err != nil {
				return nil, err
			}
			var r map[string]json.RawMessage
			if json.Unmarshal(raw, &r) != nil || string(r["resourceType"]) != `"Patient"` {
				continue
			}
			out := map[string]any{"resourceType": "Patient"}
			for _, c := range identity {
				if v, ok := r[c]; ok {
					out[c] = v
				}
			}
			return out, nil
		}
		if bookmark = items.Bookmark; bookmark == "" {
			break
		}
	}
	return nil, fmt.Errorf("%w: patient %s has no Patient record to take %v from", ErrNotFound, patientID, identity)
}

// CardCheck is what the ledger says of a card: whether its issuer is a
// hospital of the exchange that registered the key it is signed with, and
// whether the record it copies is notarized by that issuer and not
// superseded. It names no patient and no health data.
type CardCheck struct {
	Valid                  bool
	Issuer, Org, OrgName   string
	Kid                    string
	Version, LatestVersion int
	Problems               []string
}

// CheckCard checks a card (its JWS or shc:/ numeric form) against the
// ledger: the issuer registry, the signature with the registered key, and
// the notary. It is public: it needs no account and reads no record.
func (s *Service) CheckCard(ctx context.Context, card string) (CardCheck, error) {
	ctx, span := tracer.Start(ctx, "check-card")
	defer span.End()
	if len(card) > 2*shc.MaxJWSBytes+len(shc.NumericPrefix) {
		return CardCheck{}, fmt.Errorf("%w: a card is at most %d characters", ErrInvalid, 2*shc.MaxJWSBytes+len(shc.NumericPrefix))
	}
	jws := strings.TrimSpace(card)
	if strings.HasPrefix(jws, shc.NumericPrefix) {
		var err error
		if jws, err = shc.FromNumeric(jws); err != nil {
			return CardCheck{Problems: []string{"not a SMART Health Card: " + err.Error()}}, nil
		}
	}
	c, err := shc.Decode(jws)
	if err != nil {
		return CardCheck{Problems: []string{"not a SMART Health Card: " + err.Error()}}, nil
	}
	out := CardCheck{Issuer: c.Payload.Issuer, Kid: c.Header.Kid}
	reg, err := s.registeredIssuer(ctx, c.Payload.Issuer, c.Header.Kid)
	if err != nil {
		return CardCheck{}, err
	}
	if reg == nil {
		out.Problems = append(out.Problems, "the issuer is not an organisation of the exchange")
		return out, nil
	}
	out.Org = reg.Org
	if o, ok := ledgerapi.OrganisationOf(reg.Org); ok {
		out.OrgName = o.Name
	}
	keys := shc.JWKS{}
	for _, k := range reg.Keys {
		keys.Keys = append(keys.Keys, shc.JWK{Kty: "EC", Crv: "P-256", Use: "sig", Alg: "ES256", Kid: k.Kid, X: k.X, Y: k.Y})
	}
	if err := c.Verify(keys); err != nil {
		if errors.Is(err, shc.ErrUnknownKey) {
			out.Problems = append(out.Problems, "signed with a key the issuer has not registered on the ledger")
		} else {
			out.Problems = append(out.Problems, "the signature does not verify: the card was altered or forged")
		}
		return out, nil
	}
	recordID, version, sum, ok := notaryIdentifier(c.Payload.VC.CredentialSubject.FHIRBundle)
	if !ok {
		out.Problems = append(out.Problems, "the card names no notarized record")
		return out, nil
	}
	versions, err := s.ledger.RecordHistory(ctx, recordID)
	if errors.Is(err, ledgerapi.ErrNotFound) || err == nil && len(versions) == 0 {
		out.Problems = append(out.Problems, "the record the card copies is not notarized")
		return out, nil
	}
	if err != nil {
		return CardCheck{}, err
	}
	latest := versions[len(versions)-1]
	out.LatestVersion = latest.Version
	i := slices.IndexFunc(versions, func(n ledgerapi.Notarization) bool { return n.Version == version && n.SHA256 == sum })
	switch {
	case i < 0:
		out.Problems = append(out.Problems, "the record the card copies is not notarized")
	case versions[i].Org != reg.Org:
		out.Problems = append(out.Problems, "the record was filed by another organisation than the card's issuer")
	case version != latest.Version:
		out.Version = version
		out.Problems = append(out.Problems, fmt.Sprintf("the record is superseded: the card copies version %d, the latest is version %d", version, latest.Version))
	default:
		out.Version = version
	}
	if e, err := s.ledger.Erasure(ctx, latest.PatientID); err == nil && e.ErasureID != "" {
		out.Problems = append(out.Problems, "the patient's records are erased")
	}
	out.Valid = len(out.Problems) == 0
	return out, nil
}

// registeredIssuer is the registration naming the issuer URL, from the
// cached registry, read again once when it lacks the URL or the key (nil:
// none).
func (s *Service) registeredIssuer(ctx context.Context, issuer, kid string) (*ledgerapi.CardIssuer, error) {
	find := func(issuers []ledgerapi.CardIssuer) (*ledgerapi.CardIssuer, bool) {
		for i := range issuers {
			if slices.Contains(issuers[i].Issuers, issuer) {
				known := slices.ContainsFunc(issuers[i].Keys, func(k ledgerapi.CardKey) bool { return k.Kid == kid })
				return &issuers[i], known
			}
		}
		return nil, false
	}
	issuers, err := s.cardIssuers(ctx, false)
	if err != nil {
		return nil, err
	}
	if reg, known := find(issuers); known {
		return reg, nil
	}
	if issuers, err = s.cardIssuers(ctx, true); err != nil {
		return nil, err
	}
	reg, _ := find(issuers)
	return reg, nil
}

// notaryIdentifier finds the notarized record a card's Immunization copies.
func notaryIdentifier(bundle json.RawMessage) (recordID string, version int, sum string, ok bool) {
	var b struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Identifier   []struct {
					System string `json:"system"`
					Value  string `json:"value"`
				} `json:"identifier"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(bundle, &b) != nil {
		return "", 0, "", false
	}
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "Immunization" {
			continue
		}
		for _, id := range e.Resource.Identifier {
			if id.System != notarySystem {
				continue
			}
			parts := strings.Split(id.Value, "/")
			if len(parts) != 3 || ledgerapi.ValidateID("recordId", parts[0]) != nil || !hexHash.MatchString(parts[2]) {
				return "", 0, "", false
			}
			v, err := strconv.Atoi(parts[1])
			if err != nil || v < 1 {
				return "", 0, "", false
			}
			return parts[0], v, parts[2], true
		}
	}
	return "", 0, "", false
}

// jwksHandler serves the issuers' public keys (a JWK Set), of the
// organisation in the path when org is "{org}", else of every issuer here.
// Public, as SMART Health Cards require, with CORS open so a verifier's web
// page may fetch them.
func (s *Service) jwksHandler(org string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if org == "{org}" {
			name = r.PathValue("org")
		}
		keys, ok := s.JWKS(r.Context(), name)
		if !ok {
			http.Error(w, "no such issuer", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "max-age=300")
		_ = json.NewEncoder(w).Encode(keys)
	})
}
